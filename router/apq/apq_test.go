package apq

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseManifest(t *testing.T) {
	m, err := ParseManifest([]byte(`{"format":"apollo-persisted-query-manifest","version":1,"operations":[
		{"id":"1","body":"query A { a }","name":"A","type":"query"},
		{"id":"1","body":"query A { a }","name":"A","type":"query"}]}`))
	require.NoError(t, err)
	require.Equal(t, 1, m.Len())

	_, err = ParseManifest([]byte(`{"format":"x","operations":[{"id":"1"},{"id":"2","body":"b"},{"id":"2","body":"c"}]}`))
	require.ErrorContains(t, err, `format is "x"`)
	require.ErrorContains(t, err, "operations[0]: id and body are required")
	require.ErrorContains(t, err, "operations[2]: id 2 is used twice")
}

func ext(hash string) map[string]json.RawMessage {
	return map[string]json.RawMessage{"persistedQuery": json.RawMessage(`{"version":1,"sha256Hash":"` + hash + `"}`)}
}

func TestResolveWithoutStoreOrManifest(t *testing.T) {
	r := NewResolver()
	res, perr := r.Resolve(context.Background(), Request{Query: "{ a }"})
	require.Nil(t, perr)
	require.Equal(t, "{ a }", res.Query)
	_, perr = r.Resolve(context.Background(), Request{Extensions: ext(Hash("{ a }"))})
	require.Equal(t, CodeNotSupported, perr.Code)
	require.Equal(t, http.StatusOK, perr.Status)
	_, perr = r.Resolve(context.Background(), Request{DocumentID: "x"})
	require.Equal(t, CodeNotFound, perr.Code)
}
