#version 330 core
// A screen-space textured quad with no vertex buffer: gl_VertexID 0..3 picks the corners of
// u_rect (x0, y0, x1, y1 in normalised device coordinates) as a triangle strip.
uniform vec4 u_rect;

out vec2 v_uv;

void main() {
    vec2 corner = vec2(float(gl_VertexID & 1), float((gl_VertexID >> 1) & 1));
    v_uv = vec2(corner.x, 1.0 - corner.y);      // texture rows are stored top row first
    gl_Position = vec4(mix(u_rect.xy, u_rect.zw, corner), 0.0, 1.0);
}
