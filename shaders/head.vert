#version 330 core
// Instanced people's heads (render/face_mesh.py): one mesh, per-instance pose, colours, eye angles
// and 20 expression weights (core/expressions.py's order). Blend shapes come from a buffer
// texture of deltas (expression-major: texel = k * u_vertex_count + gl_VertexID); the eyes turn
// to their gaze and the lids rotate about the eyes (blink, follow the eye's pitch, widen, the
// cheek's push from below). Part ids as face_mesh.PART.
layout(location = 0) in vec3 a_position;
layout(location = 1) in vec3 a_normal;
layout(location = 7) in vec2 a_part_aux;     // part id, aux (lids: 0 at the edge)
layout(location = 2) in mat4 i_model;        // locations 2..5: rotation * uniform scale + translation
layout(location = 6) in vec4 i_skin;         // linear RGB skin, a = iris darkness 0..1
layout(location = 8) in vec4 i_hair;         // linear RGB hair, a = opacity of the whole head
layout(location = 9) in vec4 i_eyes;         // gaze in the head frame (unit xyz), w = metres to its target
layout(location = 10) in vec4 i_w0;          // expression weights 0..3
layout(location = 11) in vec4 i_w1;
layout(location = 12) in vec4 i_w2;
layout(location = 13) in vec4 i_w3;
layout(location = 14) in vec4 i_w4;          // 16..19

uniform mat4 u_view_proj;
uniform samplerBuffer u_deltas;
uniform int u_vertex_count;
uniform vec3 u_eye_center[2];

out vec3 v_world;
out vec3 v_normal;
out vec3 v_local;            // rest position (eyes: relative to the eye centre, before turning)
flat out int v_part;
out float v_aux;
flat out vec4 v_skin;
flat out vec4 v_hair;

mat3 rot_x(float a) { float c = cos(a), s = sin(a); return mat3(1, 0, 0, 0, c, s, 0, -s, c); }
mat3 rot_y(float a) { float c = cos(a), s = sin(a); return mat3(c, 0, -s, 0, 1, 0, s, 0, c); }

void main() {
    int part = int(a_part_aux.x + 0.5);
    float w[20] = float[20](i_w0.x, i_w0.y, i_w0.z, i_w0.w, i_w1.x, i_w1.y, i_w1.z, i_w1.w,
                            i_w2.x, i_w2.y, i_w2.z, i_w2.w, i_w3.x, i_w3.y, i_w3.z, i_w3.w,
                            i_w4.x, i_w4.y, i_w4.z, i_w4.w);
    vec3 p = a_position;
    vec3 n = a_normal;
    v_local = a_position;
    if (part >= 5 && part <= 10) {
        int side = (part == 5 || part == 7 || part == 8) ? 0 : 1;
        vec3 c = u_eye_center[side];
        // Each eye turns to the point the gaze rests on: both converge (vergence).
        vec3 d = normalize(i_eyes.xyz * i_eyes.w - c);
        float yaw = atan(-d.x, -d.z);
        float pitch = asin(clamp(d.y, -1.0, 1.0));
        mat3 r;
        if (part <= 6) {
            r = rot_y(yaw) * rot_x(pitch);
            v_local = a_position - c;
        } else {
            float close = w[14 + side], wide = w[16 + side], cheek = w[18 + side];
            bool upper = part == 7 || part == 9;
            float open_edge = upper ? 0.8 * pitch + 0.30 + 0.25 * wide - 0.12 * cheek
                                    : 0.45 * pitch - 0.42 + 0.18 * cheek;
            float shut_edge = upper ? -0.13 : -0.09;
            r = rot_x(mix(open_edge, shut_edge, clamp(close, 0.0, 1.0)));
        }
        p = c + r * (a_position - c);
        n = r * a_normal;
    } else {
        for (int k = 0; k < 20; ++k) {
            if (w[k] != 0.0 && k != 14 && k != 15 && k != 16 && k != 17)
                p += w[k] * texelFetch(u_deltas, k * u_vertex_count + gl_VertexID).xyz;
        }
    }
    mat3 m = mat3(i_model);
    vec4 world = i_model * vec4(p, 1.0);
    v_world = world.xyz;
    v_normal = m * n;
    v_part = part;
    v_aux = a_part_aux.y;
    v_skin = i_skin;
    v_hair = i_hair;
    gl_Position = u_view_proj * world;
}
