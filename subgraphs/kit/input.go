package kit

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Length limits (in characters) shared by the subgraphs' inputs. Every string
// argument and input field is checked against one of them.
const (
	MaxID          = 64     // ids and cursors
	MaxName        = 200    // names, titles, codes, framework names
	MaxEmail       = 254    // RFC 5321 path limit
	MaxPassword    = 1024   // bounds the cost of hashing
	MaxURL         = 2048   // links to evidence
	MaxDescription = 10_000 // free text
	MaxToken       = 4096   // opaque tokens (refresh tokens, JWTs)
)

// Input collects every problem of one input so the client hears of all of
// them at once, as one BAD_USER_INPUT error:
//
//	var in kit.Input
//	name := in.Text("name", args.Name, kit.MaxName)       // trimmed, required
//	desc := in.Optional("description", args.Description, kit.MaxDescription)
//	if err := in.Err(); err != nil { return nil, err }
type Input struct {
	problems []string
}

// Text returns v trimmed, recording a problem when it is empty or longer than max characters.
func (in *Input) Text(field, v string, max int) string {
	v = strings.TrimSpace(v)
	if v == "" {
		in.Problemf("%s is required", field)
		return v
	}
	in.MaxLen(field, v, max)
	return v
}

// Optional returns *v trimmed ("" for nil), recording a problem when it is
// longer than max characters.
func (in *Input) Optional(field string, v *string, max int) string {
	if v == nil {
		return ""
	}
	s := strings.TrimSpace(*v)
	in.MaxLen(field, s, max)
	return s
}

// MaxLen records a problem when v is longer than max characters. It returns
// whether v is within the limit.
func (in *Input) MaxLen(field, v string, max int) bool {
	if len(v) > max && utf8.RuneCountInString(v) > max {
		in.Problemf("%s must be at most %d characters", field, max)
		return false
	}
	return true
}

// Problemf records a problem.
func (in *Input) Problemf(format string, args ...any) {
	in.problems = append(in.problems, fmt.Sprintf(format, args...))
}

// Err returns nil, or a BAD_USER_INPUT *Error listing every problem.
func (in *Input) Err() error {
	if len(in.problems) == 0 {
		return nil
	}
	return BadInput(in.problems...)
}
