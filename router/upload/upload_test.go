package upload

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFillAndClear: the map's places, in objects and lists, hold the
// placeholder while variables are coerced and null again afterwards; a
// place that is missing or not null is refused.
func TestFillAndClear(t *testing.T) {
	files, err := parseMap([]byte(`{"b": ["variables.in.files.1"], "a": ["variables.in.files.0", "variables.one"]}`), 5)
	require.NoError(t, err)
	require.Equal(t, "b", files[0].key, "the map's order is kept")
	u := &Request{files: files}
	vars := map[string]json.RawMessage{"in": json.RawMessage(`{"files":[null,null],"n":1.50}`), "one": json.RawMessage(`null`)}
	filled, err := u.Fill(vars)
	require.NoError(t, err)
	require.JSONEq(t, `{"files":["<file>","<file>"],"n":1.50}`, string(filled["in"]))
	require.JSONEq(t, `"<file>"`, string(filled["one"]))

	coerced := map[string]any{"in": map[string]any{"files": []any{Placeholder, Placeholder}}, "one": Placeholder}
	u.Clear(coerced)
	require.Equal(t, map[string]any{"in": map[string]any{"files": []any{nil, nil}}, "one": nil}, coerced)

	for _, m := range []string{`{"0": ["variables.in.files.2"]}`, `{"0": ["variables.in.n"]}`, `{"0": ["variables.nope"]}`, `{"0": ["variables.in.files.x"]}`} {
		files, err := parseMap([]byte(m), 5)
		require.NoError(t, err)
		_, err = (&Request{files: files}).Fill(vars)
		var ue *Error
		require.ErrorAs(t, err, &ue, m)
		require.Equal(t, CodeInvalid, ue.Code, m)
	}
	for m, code := range map[string]string{
		`[]`:                    CodeInvalid,
		`{"0": []}`:             CodeInvalid,
		`{"0": ["in.file"]}`:    CodeInvalid,
		`{"0": ["variables."]}`: CodeInvalid,
		`{"0": ["variables.a"], "0": ["variables.b"]}`:                       CodeInvalid,
		`{"0": ["variables.a"], "1": ["variables.b"], "2": ["variables.c"]}`: CodeTooManyFiles,
	} {
		_, err := parseMap([]byte(m), 2)
		var ue *Error
		require.ErrorAs(t, err, &ue, m)
		require.Equal(t, code, ue.Code, m)
	}
}
