// Command subgraphgen runs gqlgen for one subgraph with the repository's one
// gqlgen.yml. It is invoked by `go generate` from each subgraph:
//
//	//go:generate go run ../../../internal/tools/subgraphgen identity
//
// gqlgen's informational log lines ("adding resolver method for …") are
// discarded unless SUBGRAPHGEN_VERBOSE=1; errors are always reported.
//
// It finds gqlgen.yml by walking up from the working directory, changes into
// that directory (the repository root), loads the file with
// config.LoadConfig, points the schema, exec, federation, model and resolver
// paths at subgraph NAME by convention, and calls api.Generate.
package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"sort"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen/config"
	"github.com/vektah/gqlparser/v2/ast"
)

const (
	configFile = "gqlgen.yml"
	modulePath = "github.com/studio-platform/studio"
)

var validName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

func main() {
	if len(os.Args) != 2 || !validName.MatchString(os.Args[1]) {
		fmt.Fprintln(os.Stderr, "usage: subgraphgen NAME   (NAME: a subgraph, e.g. identity)")
		os.Exit(2)
	}
	if os.Getenv("SUBGRAPHGEN_VERBOSE") != "1" {
		log.SetOutput(io.Discard)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "subgraphgen %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func run(name string) error {
	root, err := findRoot()
	if err != nil {
		return err
	}
	if err := os.Chdir(root); err != nil {
		return fmt.Errorf("enter repository root: %w", err)
	}
	cfg, err := config.LoadConfig(configFile)
	if err != nil {
		return fmt.Errorf("load %s: %w", configFile, err)
	}
	if err := pointAt(cfg, name); err != nil {
		return err
	}
	if err := api.Generate(cfg); err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	return nil
}

// pointAt sets every per-subgraph path of cfg to the conventional layout
// of subgraph name and loads its schema files.
func pointAt(cfg *config.Config, name string) error {
	if len(cfg.SchemaFilename) > 0 {
		return errors.New("gqlgen.yml must not set schema: the generator sets it per subgraph")
	}
	files, err := filepath.Glob(filepath.Join("schema", name, "*.graphqls"))
	if err != nil {
		return fmt.Errorf("glob schema: %w", err)
	}
	if len(files) == 0 {
		return fmt.Errorf("no schema files in schema/%s/*.graphqls", name)
	}
	sort.Strings(files) // deterministic source order
	cfg.SchemaFilename = files
	cfg.Sources = nil
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("read schema: %w", err)
		}
		cfg.Sources = append(cfg.Sources, &ast.Source{Name: filepath.ToSlash(f), Input: string(b)})
	}

	graphDir := filepath.Join("subgraphs", name, "graph")
	cfg.Exec.Filename = filepath.Join(graphDir, "generated", "generated.go")
	cfg.Exec.Package = "generated"
	cfg.Federation.Filename = filepath.Join(graphDir, "generated", "federation.go")
	cfg.Federation.Package = "generated"
	cfg.Model.Filename = filepath.Join(graphDir, "model", "models_gen.go")
	cfg.Model.Package = "model"
	cfg.Resolver.DirName = graphDir
	cfg.Resolver.Filename = filepath.Join(graphDir, "resolver.go")
	cfg.Resolver.Package = "graph"
	// Hand-written entity structs and enums live next to models_gen.go; binding
	// them lets fields without a struct field (User.organization, Project.controls, …)
	// become resolvers backed by dataloaders.
	cfg.AutoBind = append(cfg.AutoBind, modulePath+"/"+filepath.ToSlash(filepath.Join(graphDir, "model")))
	return nil
}

// findRoot walks up from the working directory to the directory holding gqlgen.yml.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, configFile)); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%s not found in any parent directory", configFile)
		}
		dir = parent
	}
}
