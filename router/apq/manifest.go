package apq

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// ManifestFormat is the format field of a persisted-query manifest.
const ManifestFormat = "apollo-persisted-query-manifest"

// MaxManifestBytes bounds a manifest file.
const MaxManifestBytes = 64 << 20

// Manifest is a persisted-operations manifest: operations by id.
type Manifest struct {
	byID   map[string]string
	bodies map[string]bool
}

// Operation is one manifest entry.
type Operation struct {
	ID   string `json:"id"`
	Body string `json:"body"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// LoadManifest reads a manifest file:
// {"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id", "body", "name", "type"}]}.
func LoadManifest(path string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("apq: manifest: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("apq: manifest %s: %w", path, err)
	}
	if len(data) > MaxManifestBytes {
		return nil, fmt.Errorf("apq: manifest %s: larger than %d bytes", path, MaxManifestBytes)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("apq: manifest %s: %w", path, err)
	}
	return m, nil
}

// ParseManifest decodes a manifest, reporting every bad entry at once.
func ParseManifest(data []byte) (*Manifest, error) {
	var doc struct {
		Format     string      `json:"format"`
		Version    int         `json:"version"`
		Operations []Operation `json:"operations"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	var errs []error
	if doc.Format != ManifestFormat {
		errs = append(errs, fmt.Errorf("format is %q, want %q", doc.Format, ManifestFormat))
	}
	m := &Manifest{byID: make(map[string]string, len(doc.Operations)), bodies: make(map[string]bool, len(doc.Operations))}
	for i, op := range doc.Operations {
		switch {
		case op.ID == "" || op.Body == "":
			errs = append(errs, fmt.Errorf("operations[%d]: id and body are required", i))
			continue
		case m.byID[op.ID] != "" && m.byID[op.ID] != op.Body:
			errs = append(errs, fmt.Errorf("operations[%d]: id %s is used twice with different bodies", i, op.ID))
			continue
		}
		m.byID[op.ID] = op.Body
		m.bodies[op.Body] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// Len is the number of operations.
func (m *Manifest) Len() int { return len(m.byID) }

func (m *Manifest) hasBody(q string) bool { return m != nil && m.bodies[q] }
