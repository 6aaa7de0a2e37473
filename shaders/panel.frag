#version 330 core
// A panel quad: its background colour with its label (glyph coverage in the atlas's alpha) laid
// over it in the text colour; a ray is just its colour.
uniform sampler2D u_atlas;

in vec2 v_uv;
in vec4 v_color;
in vec4 v_text_color;
flat in vec4 v_atlas;
flat in vec4 v_text_box;
flat in float v_has_text;
out vec4 frag_color;

void main() {
    float text = 0.0;
    if (v_has_text > 0.5) {
        vec2 t = (v_uv - v_text_box.xy) / (v_text_box.zw - v_text_box.xy);
        if (all(greaterThanEqual(t, vec2(0.0))) && all(lessThanEqual(t, vec2(1.0)))) {
            vec2 uv = vec2(mix(v_atlas.x, v_atlas.z, t.x), mix(v_atlas.w, v_atlas.y, t.y));
            text = texture(u_atlas, uv).a * v_text_color.a;
        }
    }
    vec3 rgb = mix(v_color.rgb, v_text_color.rgb, text);
    frag_color = vec4(rgb, max(v_color.a, text));
}
