#version 330 core
// Text panels: the texture holds display-ready (sRGB-encoded) RGBA with straight alpha.
uniform sampler2D u_texture;

in vec2 v_uv;
out vec4 frag_color;

void main() {
    frag_color = texture(u_texture, v_uv);
}
