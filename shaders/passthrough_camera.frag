#version 330 core
// The simulated runtime's "camera": a recognisable pattern (u_cell-pixel checkerboard of two
// colours) standing in for the real room. Blending (set by the platform) puts it UNDER what the
// app drew (premultiplied): out = camera * (1 - dst.a) + drawn, alpha 1.
uniform vec3 u_color_a;
uniform vec3 u_color_b;
uniform float u_cell;

out vec4 frag_color;

void main() {
    vec2 cell = floor(gl_FragCoord.xy / u_cell);
    float pick = mod(cell.x + cell.y, 2.0);
    frag_color = vec4(mix(u_color_a, u_color_b, pick), 1.0);
}
