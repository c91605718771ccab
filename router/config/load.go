package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxFileBytes bounds a configuration file.
const MaxFileBytes = 1 << 20

// Getenv looks a variable up (os.LookupEnv in production).
type Getenv func(name string) (string, bool)

// Load reads, expands, decodes and validates a configuration file; see Parse.
func Load(path string, getenv Getenv) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("config: %s: larger than %d bytes", path, MaxFileBytes)
	}
	c, err := Parse(data, getenv)
	if err != nil {
		return nil, fmt.Errorf("config: %s:\n%w", path, err)
	}
	return c, nil
}

// Parse decodes a configuration document. Every scalar value may use
// ${NAME} (an error when NAME is not set), ${NAME:-default} and $$ for a
// literal $; expansion happens after YAML parsing, so a variable's value
// can never add keys. Unknown keys are errors. The result has its
// profile's defaults filled in and is validated; every problem (unset
// variables, unknown keys, wrong types, invalid values) is reported at once.
func Parse(data []byte, getenv Getenv) (*Config, error) {
	if getenv == nil {
		getenv = func(string) (string, bool) { return "", false }
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, err
	}
	c := &Config{}
	if len(root.Content) == 0 { // an empty file: all defaults
		c.setDefaults()
		return c, c.Validate()
	}
	var errs []error
	expandNode(&root, getenv, &errs)
	expanded, err := yaml.Marshal(&root)
	if err != nil {
		return nil, errors.Join(append(errs, err)...)
	}
	dec := yaml.NewDecoder(bytes.NewReader(expanded))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, errors.Join(append(errs, err)...)
		}
		for _, e := range te.Errors { // every unknown key and wrong type
			errs = append(errs, errors.New(e))
		}
	}
	c.setDefaults()
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// expandNode expands variables in every scalar value (not in keys).
func expandNode(n *yaml.Node, getenv Getenv, errs *[]error) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			expandNode(c, getenv, errs)
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			expandNode(n.Content[i], getenv, errs)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") {
			return
		}
		v, err := expand(n.Value, getenv)
		if err != nil {
			*errs = append(*errs, fmt.Errorf("line %d: %w", n.Line, err))
			return
		}
		n.Value = v
		if n.Style == 0 || n.Style == yaml.TaggedStyle {
			n.Tag = "" // let a plain value resolve again: "${PORT}" may be a number
		}
	}
}

// expand replaces ${NAME}, ${NAME:-default} and $$.
func expand(s string, getenv Getenv) (string, error) {
	var b strings.Builder
	var errs []error
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 || i == len(s)-1 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			s = s[i+2:]
			continue
		case '{':
		default:
			b.WriteByte('$')
			s = s[i+1:]
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated ${ in %q", s)
		}
		ref := s[i+2 : i+end]
		s = s[i+end+1:]
		name, def, hasDef := strings.Cut(ref, ":-")
		if !validName(name) {
			errs = append(errs, fmt.Errorf("${%s}: %q is not a variable name", ref, name))
			continue
		}
		v, ok := getenv(name)
		switch {
		case ok && v != "":
			b.WriteString(v)
		case hasDef:
			b.WriteString(def)
		case ok:
		default:
			errs = append(errs, fmt.Errorf("${%s} is not set (write ${%s:-} to allow that)", name, name))
		}
	}
	return b.String(), errors.Join(errs...)
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r != '_' && (r < 'A' || r > 'Z') && (r < 'a' || r > 'z') && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}
