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

// negotiate picks the response media type for an Accept header: the
// acceptable type with the highest q, the more specific range winning ties,
// then application/graphql-response+json. No header (or only wildcards) means
// application/graphql-response+json, as the spec asks from 2025 on. ok is
// false when nothing acceptable is offered (406). A charset other than utf-8
// makes a range unacceptable.
func negotiate(accept string) (media string, ok bool) {
	if strings.TrimSpace(accept) == "" {
		return mediaGraphQLResponse, true
	}
	type pick struct {
		media       string
		q           float64
		specificity int // 2 exact, 1 type/*, 0 */*
	}
	best := pick{q: -1}
	better := func(p pick) bool {
		if p.q != best.q {
			return p.q > best.q
		}
		if p.specificity != best.specificity {
			return p.specificity > best.specificity
		}
		return p.media == mediaGraphQLResponse && best.media != mediaGraphQLResponse
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
		if q == 0 {
			continue
		}
		if cs, has := params["charset"]; has && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
			continue
		}
		var cands []pick
		switch mt {
		case mediaGraphQLResponse, mediaJSON:
			cands = []pick{{mt, q, 2}}
		case "application/*":
			cands = []pick{{mediaGraphQLResponse, q, 1}, {mediaJSON, q, 1}}
		case "*/*":
			cands = []pick{{mediaGraphQLResponse, q, 0}, {mediaJSON, q, 0}}
		}
		for _, c := range cands {
			if better(c) {
				best = c
			}
		}
	}
	if best.q < 0 {
		return "", false
	}
	return best.media, true
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
