// Package rbac is the permission catalogue and the built-in roles of the
// policy subgraph. The catalogue is fixed (custom roles pick from it); the
// built-in roles are the same in every organization and have fixed ids.
package rbac

import "slices"

// Permissions of the catalogue (resource:action).
const (
	OrganizationManage = "organization:manage"
	MemberRead         = "member:read"
	MemberManage       = "member:manage"
	ProjectRead        = "project:read"
	ProjectWrite       = "project:write"
	EvidenceSubmit     = "evidence:submit"
	EvidenceReview     = "evidence:review"
	PolicyRead         = "policy:read"
	PolicyManage       = "policy:manage"
	AuditRead          = "audit:read"
)

// Permission is an entry of the catalogue.
type Permission struct {
	Name        string
	Description string
}

var catalogue = []Permission{
	{OrganizationManage, "Rename or delete the organization, transfer ownership."},
	{MemberRead, "List members and their role bindings."},
	{MemberManage, "Grant and revoke roles."},
	{ProjectRead, "Read projects, controls and evidence."},
	{ProjectWrite, "Create and change projects and controls."},
	{EvidenceSubmit, "Add evidence to a control."},
	{EvidenceReview, "Approve or reject evidence."},
	{PolicyRead, "Read roles and policies, and ask for other subjects' decisions."},
	{PolicyManage, "Create, change and delete custom roles and policies."},
	{AuditRead, "Read the policy audit log."},
}

// Catalogue returns the permission catalogue, in its fixed order.
func Catalogue() []Permission { return slices.Clone(catalogue) }

// Known reports whether name is a permission of the catalogue.
func Known(name string) bool {
	return slices.ContainsFunc(catalogue, func(p Permission) bool { return p.Name == name })
}

// Sorted returns names in catalogue order, without duplicates or unknown names.
func Sorted(names []string) []string {
	out := make([]string, 0, len(names))
	for _, p := range catalogue {
		if slices.Contains(names, p.Name) {
			out = append(out, p.Name)
		}
	}
	return out
}

// Role is a built-in role.
type Role struct {
	ID          string
	Name        string
	Description string
	Permissions []string
}

// Built-in role names.
const (
	Owner       = "owner"
	Admin       = "admin"
	Auditor     = "auditor"
	Contributor = "contributor"
	Viewer      = "viewer"
)

func all(except ...string) []string {
	var out []string
	for _, p := range catalogue {
		if !slices.Contains(except, p.Name) {
			out = append(out, p.Name)
		}
	}
	return out
}

var builtIn = []Role{
	{"00000000-0000-4000-8000-00000000a001", Owner, "Every permission, including managing the organization itself.", all()},
	{"00000000-0000-4000-8000-00000000a002", Admin, "Every permission but organization:manage.", all(OrganizationManage)},
	{"00000000-0000-4000-8000-00000000a003", Auditor, "Reads everything (projects, members, policies, the audit log) and changes nothing.",
		[]string{MemberRead, ProjectRead, PolicyRead, AuditRead}},
	{"00000000-0000-4000-8000-00000000a004", Contributor, "Works on projects: reads and changes them and submits evidence.",
		[]string{MemberRead, ProjectRead, ProjectWrite, EvidenceSubmit}},
	{"00000000-0000-4000-8000-00000000a005", Viewer, "Reads projects and members.", []string{MemberRead, ProjectRead}},
}

// BuiltIn returns the built-in roles, owner first.
func BuiltIn() []Role { return slices.Clone(builtIn) }

// BuiltInByID returns the built-in role with id.
func BuiltInByID(id string) (Role, bool) {
	i := slices.IndexFunc(builtIn, func(r Role) bool { return r.ID == id })
	if i < 0 {
		return Role{}, false
	}
	return builtIn[i], true
}

// BuiltInByName returns the built-in role named name.
func BuiltInByName(name string) (Role, bool) {
	i := slices.IndexFunc(builtIn, func(r Role) bool { return r.Name == name })
	if i < 0 {
		return Role{}, false
	}
	return builtIn[i], true
}

// FromIdentityRole maps identity's per-user role (ADMIN, MEMBER, VIEWER) to
// the built-in role a new user is bound to; ownerless is whether the
// organization has no owner yet (its first ADMIN becomes the owner: sign-up
// makes the founder ADMIN of a new organization).
func FromIdentityRole(role string, ownerless bool) string {
	switch {
	case role == "ADMIN" && ownerless:
		return Owner
	case role == "ADMIN":
		return Admin
	case role == "VIEWER":
		return Viewer
	default:
		return Contributor
	}
}
