#version 330 core
// Instanced unit meshes (sphere, box, cylinder). Each instance carries its model matrix and
// colour. The model matrix is rotation * scale (+ translation), so the normal transform is
// M * (n / s^2) with s the column lengths: no per-vertex matrix inverse.
layout(location = 0) in vec3 a_position;
layout(location = 1) in vec3 a_normal;
layout(location = 2) in mat4 i_model;     // locations 2..5
layout(location = 6) in vec4 i_color;

uniform mat4 u_view_proj;

out vec3 v_world;
out vec3 v_normal;
out vec4 v_color;

void main() {
    mat3 m = mat3(i_model);
    vec3 s2 = vec3(dot(m[0], m[0]), dot(m[1], m[1]), dot(m[2], m[2]));
    vec4 world = i_model * vec4(a_position, 1.0);
    v_world = world.xyz;
    v_normal = m * (a_normal / max(s2, vec3(1e-12)));
    v_color = i_color;
    gl_Position = u_view_proj * world;
}
