#!/bin/sh
# Generate the scripted people's speech clips (development time only; needs espeak-ng and sox).
# Output: assets/voices/voice_<n>.wav, 16 kHz mono 16-bit, a few seconds each.
set -eu
out="$(dirname "$0")/../assets/voices"
mkdir -p "$out"
say() {  # say <file> <espeak voice> <pitch> <speed> <text>
    espeak-ng -v "$2" -p "$3" -s "$4" -w "$out/tmp.wav" "$5"
    sox "$out/tmp.wav" -r 16000 -c 1 -b 16 "$out/$1" norm -3
    rm -f "$out/tmp.wav"
}
say voice_0.wav en-us 40 150 "Good morning everyone. Shall we start?"
say voice_1.wav en-gb+f3 60 160 "The prototype is nearly ready."
say voice_2.wav en-us+m3 30 140 "Can you hear me on the left?"
say voice_3.wav en-gb+f2 70 170 "Let me whisper to my neighbour."
