# The two commands of the README:
#   make demo   run the main job (a meeting: headset -> desktop window -> headless recording)
#   make test   run the whole test suite (every tier; sets up what it needs first)
.PHONY: setup demo test bench clean

setup:
	scripts/setup.sh

demo: setup
	.venv/bin/xrdemo

test:
	scripts/setup.sh --monado
	.venv/bin/python -m pytest

bench: setup
	.venv/bin/python bench/frame_core.py

clean:
	rm -rf .venv build *.egg-info .pytest_cache .hypothesis
