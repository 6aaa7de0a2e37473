#version 330 core
// A name tag: white text (the atlas holds glyph coverage in alpha) on a rounded, tinted plate.
uniform sampler2D u_atlas;

in vec2 v_uv;
in vec2 v_local;
in vec4 v_color;
flat in float v_aspect;
out vec4 frag_color;

void main() {
    // Rounded corners: distance to the inner rectangle, in units of half the tag's height.
    vec2 p = abs(v_local) * vec2(v_aspect, 1.0);
    vec2 inner = vec2(v_aspect - 0.6, 0.4);
    float d = length(max(p - inner, 0.0)) - 0.6;
    if (d > 0.0) discard;
    float text = texture(u_atlas, v_uv).a;
    vec3 rgb = mix(v_color.rgb, vec3(1.0), text);
    frag_color = vec4(rgb, max(v_color.a, text));
}
