#version 330 core
// Materials of a person's head (part ids as render/face_mesh.PART), lit like every other surface
// (the same terms as lit.frag: hemisphere ambient, wrapped key light, the warm pendant, specular).
in vec3 v_world;
in vec3 v_normal;
in vec3 v_local;
flat in int v_part;
in float v_aux;
flat in vec4 v_skin;
flat in vec4 v_hair;

uniform vec3 u_light_dir;
uniform vec3 u_camera_pos;
uniform vec3 u_pendant_pos;

out vec4 frag_color;

vec3 albedo_and_gloss(out float gloss) {
    vec3 skin = v_skin.rgb;
    gloss = 0.10;
    if (v_part == 0) {                                   // skull: hair above a hairline
        float line = 0.052 - 0.55 * clamp(v_local.z, 0.0, 0.11);
        if (v_local.y > line) { gloss = 0.25; return v_hair.rgb; }
        return skin;
    }
    if (v_part == 2) return skin * vec3(1.04, 0.95, 0.93);
    if (v_part == 3) return skin * vec3(1.0, 0.92, 0.90);
    if (v_part == 5 || v_part == 6) {                    // the eye, from its own forward axis
        gloss = 0.9;
        float c = -normalize(v_local).z;
        vec3 iris = mix(vec3(0.16, 0.22, 0.26), vec3(0.045, 0.022, 0.010), v_skin.a);
        if (c > 0.982) return vec3(0.005);
        if (c > 0.885) return iris * (0.75 + 0.5 * (c - 0.885) / 0.097);
        if (c > 0.87) return iris * 0.35;
        return vec3(0.72, 0.69, 0.64);
    }
    if (v_part >= 7 && v_part <= 10) {                   // lids, a lash line at the edge
        if (v_aux < 0.11 && (v_part == 7 || v_part == 9)) return vec3(0.02, 0.015, 0.012);
        return skin * 0.92;
    }
    if (v_part == 11) return v_hair.rgb * 0.8;
    if (v_part == 12) { gloss = 0.3; return skin * vec3(0.78, 0.48, 0.46); }
    if (v_part == 13) {                                  // the inside of the mouth, upper teeth
        if (v_local.y > -0.0522 && abs(v_local.x) < 0.012) return vec3(0.30, 0.29, 0.26);
        return vec3(0.018, 0.004, 0.004);
    }
    return skin;
}

void main() {
    vec3 n = normalize(v_normal);
    vec3 v = normalize(u_camera_pos - v_world);
    if (dot(n, v) < 0.0) n = -n;
    float gloss;
    vec3 albedo = albedo_and_gloss(gloss);
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
    float spec = pow(max(dot(n, h), 0.0), 48.0) * 0.18 * gloss / 0.1 * 0.5;
    // Skin scatters light: a soft warm fill where the key light wraps past the terminator.
    vec3 sss = (v_part <= 4) ? albedo * vec3(0.20, 0.06, 0.04) * max(0.0, 0.6 - abs(dot(n, u_light_dir))) : vec3(0.0);
    vec3 color = albedo * (ambient + key + lamp) + vec3(spec) + sss;
    frag_color = vec4(color, v_hair.a);
}
