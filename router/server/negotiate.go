package server

import (
	"mime"
	"strconv"
	"strings"
)

// Response media types.
const (
	mediaGraphQLResponse = "application/graphql-response+json"
	mediaJSON            = "application/json"
)

// negotiate picks the response media type for an Accept header per RFC 9110:
// each of our two types gets the q of the most specific range matching it
// (exact, then type/*, then */*); the higher q wins. A tie goes to
// application/graphql-response+json only when the client named it; no
// header, */* or application/* mean application/json, as the
// GraphQL-over-HTTP spec says a server SHOULD do for clients that do not
// ask for the new type (legacy clients read 4xx bodies badly). ok is
// false when neither type is acceptable (406). A range naming a charset other
// than utf-8 is ignored.
func negotiate(accept string) (media string, ok bool) {
	if strings.TrimSpace(accept) == "" {
		return mediaJSON, true
	}
	type match struct {
		q           float64
		specificity int // 3 exact, 2 type/*, 1 */*, 0 none
	}
	var gql, json match
	consider := func(m *match, q float64, specificity int) {
		if specificity > m.specificity {
			*m = match{q, specificity}
		}
	}
	for _, part := range strings.Split(accept, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		mt, params, err := mime.ParseMediaType(part)
		if err != nil {
			continue
		}
		q := 1.0
		if s, has := params["q"]; has {
			if q, err = strconv.ParseFloat(s, 64); err != nil || q < 0 || q > 1 {
				continue
			}
		}
		if cs, has := params["charset"]; has && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
			continue
		}
		switch mt {
		case mediaGraphQLResponse:
			consider(&gql, q, 3)
		case mediaJSON:
			consider(&json, q, 3)
		case "application/*":
			consider(&gql, q, 2)
			consider(&json, q, 2)
		case "*/*":
			consider(&gql, q, 1)
			consider(&json, q, 1)
		}
	}
	switch {
	case gql.specificity > 0 && gql.q > 0 && (gql.q > json.q || gql.q == json.q && gql.specificity == 3):
		return mediaGraphQLResponse, true
	case json.specificity > 0 && json.q > 0:
		return mediaJSON, true
	}
	return "", false
}

// prefersHTML reports whether a browser is asking for a page (GraphiQL)
// rather than a GraphQL response.
func prefersHTML(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && mt == "text/html" {
			return true
		}
	}
	return false
}
