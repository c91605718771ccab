// Package gateway is the router's request pipeline: it parses and validates an
// operation against the API schema (cached by query hash), plans it (cached by
// normalized operation) and executes the plan against the subgraphs. It knows
// nothing about HTTP: router/server turns HTTP into a Request and a Response
// back into HTTP.
package gateway

import (
	"encoding/json"
	"net/http"

	"github.com/studio-platform/studio/router/execute"
	"github.com/studio-platform/studio/router/upload"
)

// Request is one GraphQL request as the server decoded it.
type Request struct {
	Query         string
	OperationName string
	Variables     map[string]json.RawMessage
	Extensions    map[string]json.RawMessage
	// Header holds the inbound headers to forward to subgraphs (Authorization, traceparent, ...).
	Header http.Header
	// ReadOnly is set for GET requests: a mutation is then refused with KindMethodNotAllowed.
	ReadOnly bool
	// IncludePlan asks for the query plan in the response extensions.
	IncludePlan bool
	// Uploads are the files of a GraphQL multipart request (nil: none). The
	// variables must hold upload.Placeholder where they go (Uploads.Fill).
	Uploads *upload.Request
}

// Kind classifies a failed request so that the HTTP layer can choose the status code.
type Kind int

const (
	// KindOK means the request was executed; Errors may still hold field errors.
	KindOK Kind = iota
	// KindParse: the document is not valid GraphQL syntax (GRAPHQL_PARSE_FAILED).
	KindParse
	// KindValidation: the document does not validate against the schema (GRAPHQL_VALIDATION_FAILED).
	KindValidation
	// KindBadRequest: missing query, unknown operation name, invalid variables (BAD_USER_INPUT / BAD_REQUEST).
	KindBadRequest
	// KindMethodNotAllowed: a mutation sent over GET.
	KindMethodNotAllowed
	// KindLimit: the operation is over one of the limits (router/limits), or
	// its planning over budget, or an upload that cannot be served (not a
	// mutation, too many files, not streamable); always HTTP 400, its own
	// code per limit.
	KindLimit
	// KindTooLarge: a file of a multipart request is over its limit (HTTP 413).
	KindTooLarge
)

// CodePlanningBudget is the code of an operation whose planning took more than
// its budget of steps.
const CodePlanningBudget = "QUERY_PLANNING_BUDGET_EXCEEDED"

// Error is a GraphQL error as it goes to the client.
type Error = execute.Error

// Location is a position in the operation document.
type Location = execute.Location

// Response is the result of one request.
type Response struct {
	Kind Kind
	// Data is the JSON of the data entry; nil means absent (request error), "null" means null.
	Data       json.RawMessage
	Errors     []Error
	Extensions map[string]any
	release    func()
}

// Release gives the memory of Data back for reuse once the response is
// written; Data must not be used after. Not calling it is fine.
func (r *Response) Release() {
	if r.release != nil {
		r.release()
		r.release, r.Data = nil, nil
	}
}
