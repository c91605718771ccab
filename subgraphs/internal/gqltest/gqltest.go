// Package gqltest posts GraphQL requests to a subgraph over real HTTP in tests.
package gqltest

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// Error is one GraphQL error of a response.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code returns extensions.code.
func (e Error) Code() string {
	c, _ := e.Extensions["code"].(string)
	return c
}

// Response is a GraphQL response.
type Response struct {
	Status int             `json:"-"`
	Data   json.RawMessage `json:"data"`
	Errors []Error         `json:"errors"`
}

// Decode unmarshals Data into v, failing the test when there were errors.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	require.Empty(t, r.Errors, "GraphQL errors")
	require.NoError(t, json.Unmarshal(r.Data, v))
}

// Codes returns the extensions.code of every error.
func (r Response) Codes() []string {
	out := make([]string, len(r.Errors))
	for i, e := range r.Errors {
		out[i] = e.Code()
	}
	return out
}

// Post sends query with vars to url (the /graphql endpoint), with
// "Authorization: Bearer token" when token is not empty.
func Post(t testing.TB, url, token, query string, vars map[string]any) Response {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json, application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out Response
	require.NoError(t, json.Unmarshal(raw, &out), "response body: %s", raw)
	out.Status = resp.StatusCode
	return out
}

// Upload posts a GraphQL multipart request (operations, map, one file part:
// the variable in.file) streaming file from a pipe, so the client holds no
// copy either.
func Upload(t testing.TB, url, token, query string, input map[string]any, filename string, file io.Reader) Response {
	t.Helper()
	input["file"] = nil
	ops, err := json.Marshal(map[string]any{"query": query, "variables": map[string]any{"in": input}})
	require.NoError(t, err)
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := mw.WriteField("operations", string(ops))
		if err == nil {
			err = mw.WriteField("map", `{"0": ["variables.in.file"]}`)
		}
		if err == nil {
			var part io.Writer
			part, err = mw.CreateFormFile("0", filename)
			if err == nil {
				_, err = io.Copy(part, file)
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequest(http.MethodPost, url, pr)
	require.NoError(t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out Response
	require.NoError(t, json.Unmarshal(raw, &out), "response: %s", raw)
	out.Status = resp.StatusCode
	return out
}
