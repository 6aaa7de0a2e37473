#version 330 core
// Instanced capsules from a to b with one radius. The mesh is a unit sphere cut at its equator:
// a_end = 0 for the half placed at a, 1 for the half at b, so the equator strip becomes the
// capsule's side. The local +Y axis is aligned with b - a.
layout(location = 0) in vec3 a_position;   // unit sphere point (also its normal)
layout(location = 1) in float a_end;
layout(location = 2) in vec4 i_a_radius;   // xyz = a, w = radius
layout(location = 3) in vec3 i_b;
layout(location = 4) in vec4 i_color;

uniform mat4 u_view_proj;

out vec3 v_world;
out vec3 v_normal;
out vec4 v_color;

void main() {
    vec3 a = i_a_radius.xyz;
    float r = i_a_radius.w;
    vec3 axis = i_b - a;
    float len = length(axis);
    vec3 y = len > 1e-6 ? axis / len : vec3(0.0, 1.0, 0.0);
    vec3 helper = abs(y.y) < 0.99 ? vec3(0.0, 1.0, 0.0) : vec3(1.0, 0.0, 0.0);
    vec3 x = normalize(cross(helper, y));
    vec3 z = cross(x, y);
    vec3 n = x * a_position.x + y * a_position.y + z * a_position.z;
    vec3 world = mix(a, i_b, a_end) + r * n;
    v_world = world;
    v_normal = n;
    v_color = i_color;
    gl_Position = u_view_proj * vec4(world, 1.0);
}
