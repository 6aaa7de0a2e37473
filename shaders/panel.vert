#version 330 core
// The in-headset menu (render/panel.py): every quad of the panel and every controller ray in one
// instanced draw, no vertex buffer: gl_VertexID 0..3 picks a corner (a triangle strip).
// Quads (kind 0): i_m0..i_m3 are the columns of a model matrix mapping the unit quad (x, y in
// -0.5..0.5, z = 0) into the room. Rays (kind 1): i_m0.xyz = start, i_m1.xyz = end,
// i_m2.x = width (metres); the strip is turned to face the camera.
layout(location = 0) in vec4 i_m0;
layout(location = 1) in vec4 i_m1;
layout(location = 2) in vec4 i_m2;
layout(location = 3) in vec4 i_m3;
layout(location = 4) in vec4 i_color;       // background, linear RGBA
layout(location = 5) in vec4 i_text_color;  // label, linear RGBA
layout(location = 6) in vec4 i_atlas;       // u0, v0, u1, v1 of the label in the atlas (v down)
layout(location = 7) in vec4 i_text_box;    // x0, y0, x1, y1: where the label sits on the quad (0..1, y up)
layout(location = 8) in vec4 i_params;      // x = kind (0 quad, 1 ray), y = 1 if it has a label

uniform mat4 u_view_proj;
uniform vec3 u_camera_pos;

out vec2 v_uv;              // 0..1 across the quad, y up
out vec4 v_color;
out vec4 v_text_color;
flat out vec4 v_atlas;
flat out vec4 v_text_box;
flat out float v_has_text;

void main() {
    vec2 corner = vec2(float(gl_VertexID & 1), float((gl_VertexID >> 1) & 1));
    vec3 world;
    if (i_params.x > 0.5) {
        vec3 a = i_m0.xyz;
        vec3 b = i_m1.xyz;
        vec3 dir = b - a;
        vec3 to_cam = u_camera_pos - 0.5 * (a + b);
        vec3 side = cross(dir, to_cam);
        float len = length(side);
        side = len > 1e-9 ? side / len : vec3(0.0, 1.0, 0.0);
        world = mix(a, b, corner.x) + side * (corner.y - 0.5) * i_m2.x;
    } else {
        mat4 model = mat4(i_m0, i_m1, i_m2, i_m3);
        world = (model * vec4(corner - 0.5, 0.0, 1.0)).xyz;
    }
    v_uv = corner;
    v_color = i_color;
    v_text_color = i_text_color;
    v_atlas = i_atlas;
    v_text_box = i_text_box;
    v_has_text = i_params.y;
    gl_Position = u_view_proj * vec4(world, 1.0);
}
