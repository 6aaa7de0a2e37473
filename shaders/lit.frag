#version 330 core
// Shared lighting for every lit surface: hemisphere ambient, a wrapped key light, a warm pendant
// light over the table, soft specular and rim. Output is linear; the framebuffer converts to sRGB.
in vec3 v_world;
in vec3 v_normal;
in vec4 v_color;

uniform vec3 u_light_dir;      // unit, toward the key light
uniform vec3 u_camera_pos;     // stage space, metres
uniform vec3 u_pendant_pos;    // the lamp over the table

out vec4 frag_color;

void main() {
    vec3 n = normalize(v_normal);
    vec3 v = normalize(u_camera_pos - v_world);
    if (dot(n, v) < 0.0) n = -n;                    // seen from inside (walls): light the face we see
    vec3 albedo = v_color.rgb;

    vec3 sky = vec3(0.50, 0.55, 0.65);
    vec3 ground = vec3(0.22, 0.19, 0.16);
    vec3 ambient = mix(ground, sky, 0.5 + 0.5 * n.y) * 0.55;

    float wrap = max((dot(n, u_light_dir) + 0.35) / 1.35, 0.0);
    vec3 key = vec3(1.0, 0.96, 0.90) * wrap * 0.75;

    vec3 to_lamp = u_pendant_pos - v_world;
    float d2 = dot(to_lamp, to_lamp);
    float lamp_ndl = max(dot(n, to_lamp * inversesqrt(d2)), 0.0);
    vec3 lamp = vec3(1.0, 0.82, 0.60) * lamp_ndl * (1.6 / (1.0 + d2));

    vec3 h = normalize(u_light_dir + v);
    float spec = pow(max(dot(n, h), 0.0), 48.0) * 0.18;
    float rim = pow(1.0 - max(dot(n, v), 0.0), 3.0) * 0.22;

    vec3 color = albedo * (ambient + key + lamp) + vec3(spec) + albedo * rim;
    frag_color = vec4(color, v_color.a);
}
