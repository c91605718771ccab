package compose

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config is a supergraph.yaml in the shape rover and wgc read:
//
//	federation_version: =2.3.0   # optional
//	subgraphs:
//	  identity:
//	    routing_url: http://localhost:4001/graphql
//	    schema:
//	      file: schema/identity/schema.graphqls
//	      # or files: [a.graphqls, b.graphqls]  (concatenated, in order)
//
// FederationVersion is recorded but does not drive composition: as with Apollo's
// composition, the supergraph's join version follows the newest federation version the
// subgraphs @link.
type Config struct {
	FederationVersion string                    `yaml:"federation_version"`
	Subgraphs         map[string]SubgraphConfig `yaml:"subgraphs"`
}

// SubgraphConfig is one subgraph entry of a supergraph.yaml.
type SubgraphConfig struct {
	RoutingURL string       `yaml:"routing_url"`
	Schema     SchemaSource `yaml:"schema"`
}

// SchemaSource says where a subgraph's SDL is: one file, several files, or inline SDL.
type SchemaSource struct {
	File  string   `yaml:"file"`
	Files []string `yaml:"files"`
	SDL   string   `yaml:"sdl"`
}

// LoadConfig reads and validates a supergraph.yaml. Every problem is reported at once.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("compose: read config: %w", err)
	}
	var cfg Config
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("compose: parse %s: %w", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("compose: %s: %w", path, err)
	}
	return &cfg, nil
}

// Validate reports every problem of the configuration, joined.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Subgraphs) == 0 {
		errs = append(errs, errors.New("no subgraphs"))
	}
	for _, name := range c.names() {
		sc := c.Subgraphs[name]
		if sc.RoutingURL == "" {
			errs = append(errs, fmt.Errorf("subgraph %q: routing_url is required", name))
		}
		n := 0
		if sc.Schema.File != "" {
			n++
		}
		if len(sc.Schema.Files) > 0 {
			n++
		}
		if sc.Schema.SDL != "" {
			n++
		}
		if n != 1 {
			errs = append(errs, fmt.Errorf("subgraph %q: schema needs exactly one of file, files or sdl", name))
		}
	}
	return errors.Join(errs...)
}

func (c *Config) names() []string {
	names := make([]string, 0, len(c.Subgraphs))
	for n := range c.Subgraphs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ReadSubgraphs reads the schema files (relative paths are resolved against baseDir).
func (c *Config) ReadSubgraphs(baseDir string) ([]Subgraph, error) {
	var out []Subgraph
	var errs []error
	for _, name := range c.names() {
		sc := c.Subgraphs[name]
		files := sc.Schema.Files
		if sc.Schema.File != "" {
			files = []string{sc.Schema.File}
		}
		var parts []string
		if sc.Schema.SDL != "" {
			parts = append(parts, sc.Schema.SDL)
		}
		for _, f := range files {
			p := f
			if !filepath.IsAbs(p) {
				p = filepath.Join(baseDir, p)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				errs = append(errs, fmt.Errorf("subgraph %q: %w", name, err))
				continue
			}
			parts = append(parts, string(b))
		}
		out = append(out, Subgraph{Name: name, URL: sc.RoutingURL, SDL: strings.Join(parts, "\n")})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// ComposeConfig reads the subgraph schemas named by cfg (relative to baseDir) and composes them.
func ComposeConfig(cfg *Config, baseDir string) (string, error) {
	subgraphs, err := cfg.ReadSubgraphs(baseDir)
	if err != nil {
		return "", fmt.Errorf("compose: %w", err)
	}
	return Compose(subgraphs)
}
