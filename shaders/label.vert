#version 330 core
// Camera-facing name tags, one instance per tag, no vertex buffer: gl_VertexID 0..3 picks the
// corners of a quad spanned by the view's right and up vectors (a triangle strip).
layout(location = 0) in vec4 i_center_height;   // xyz = tag centre (metres), w = height (metres)
layout(location = 1) in vec4 i_uv_rect;         // u0, v0, u1, v1 of the text in the atlas
layout(location = 2) in vec4 i_color;           // background, linear RGBA
layout(location = 3) in float i_aspect;         // width / height of the tag

uniform mat4 u_view_proj;
uniform vec3 u_right;      // world direction of the view's +x
uniform vec3 u_up;         // world direction of the view's +y
uniform float u_min_h_per_w;  // minimum tag height (metres) per unit of clip w (a pixel floor)

out vec2 v_uv;
out vec2 v_local;          // -1..1 across the tag, for the rounded corners
out vec4 v_color;
flat out float v_aspect;

void main() {
    vec2 corner = vec2(float(gl_VertexID & 1), float((gl_VertexID >> 1) & 1));
    vec2 local = corner * 2.0 - 1.0;
    float h0 = i_center_height.w;
    float w_clip = max((u_view_proj * vec4(i_center_height.xyz, 1.0)).w, 1e-4);
    float h = max(h0, u_min_h_per_w * w_clip);
    // A grown tag grows upward, away from the face under it.
    vec3 center = i_center_height.xyz + u_up * (0.5 * (h - h0));
    vec3 world = center + u_right * (local.x * 0.5 * h * i_aspect) + u_up * (local.y * 0.5 * h);
    v_uv = vec2(mix(i_uv_rect.x, i_uv_rect.z, corner.x), mix(i_uv_rect.w, i_uv_rect.y, corner.y));
    v_local = local;
    v_color = i_color;
    v_aspect = i_aspect;
    gl_Position = u_view_proj * vec4(world, 1.0);
}
