package config

import (
	"fmt"

	"github.com/studio-platform/studio/router/limits"
)

// Limits bound each operation before it is validated and planned
// (router/limits). Nil means the default (limits.Defaults()); 0 turns a limit off.
type Limits struct {
	MaxTokens         *int     `yaml:"max_tokens"`
	MaxDepth          *int     `yaml:"max_depth"`
	MaxAliases        *int     `yaml:"max_aliases"`
	MaxRootFields     *int     `yaml:"max_root_fields"`
	MaxFields         *int     `yaml:"max_fields"`
	MaxDirectives     *int     `yaml:"max_directives"`
	MaxSelectionWidth *int     `yaml:"max_selection_width"`
	MaxCost           *float64 `yaml:"max_cost"`
	// DefaultListSize is the size the cost estimate assumes for a list
	// without @listSize.
	DefaultListSize *int `yaml:"default_list_size"`
	// PlanningBudget is the most planning steps for one operation (0: the
	// planner's default, plan.DefaultMaxSteps).
	PlanningBudget *int `yaml:"planning_budget"`
}

// Resolve returns the limits with the defaults filled in.
func (l Limits) Resolve() limits.Limits {
	out := limits.Defaults()
	for _, f := range []struct {
		from *int
		to   *int
	}{
		{l.MaxTokens, &out.MaxTokens}, {l.MaxDepth, &out.MaxDepth}, {l.MaxAliases, &out.MaxAliases},
		{l.MaxRootFields, &out.MaxRootFields}, {l.MaxFields, &out.MaxFields}, {l.MaxDirectives, &out.MaxDirectives},
		{l.MaxSelectionWidth, &out.MaxWidth}, {l.DefaultListSize, &out.DefaultListSize},
	} {
		if f.from != nil {
			*f.to = *f.from
		}
	}
	if l.MaxCost != nil {
		out.MaxCost = *l.MaxCost
	}
	return out
}

func (l Limits) validate() []error {
	var errs []error
	for name, v := range map[string]*int{
		"max_tokens": l.MaxTokens, "max_depth": l.MaxDepth, "max_aliases": l.MaxAliases,
		"max_root_fields": l.MaxRootFields, "max_fields": l.MaxFields, "max_directives": l.MaxDirectives,
		"max_selection_width": l.MaxSelectionWidth, "default_list_size": l.DefaultListSize, "planning_budget": l.PlanningBudget,
	} {
		if v != nil && *v < 0 {
			errs = append(errs, fmt.Errorf("limits.%s: must not be negative", name))
		}
	}
	if l.MaxCost != nil && *l.MaxCost < 0 {
		errs = append(errs, fmt.Errorf("limits.max_cost: must not be negative"))
	}
	return errs
}
