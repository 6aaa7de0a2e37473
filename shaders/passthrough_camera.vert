#version 330 core
// A full-screen triangle with no vertex data: the simulated runtime's synthetic camera image is
// drawn over every pixel of a view.
void main() {
    vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}
