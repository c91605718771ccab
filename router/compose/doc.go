// Package compose composes Apollo Federation subgraph SDLs (Federation v1 and v2.x) into
// a supergraph SDL in the standard format written by Apollo's composition
// (`@link` + `join` spec v0.3/v0.4/v0.5), so that any federation router can read it.
//
// The pipeline is split by stage:
//
//   - collect.go   parses each subgraph SDL, resolves its federation @link (version,
//     imports and `as:` renames), strips federation plumbing (_service, _entities, _Any,
//     link__*, federation__*) and builds a per-subgraph model.
//   - upgrade.go   applies the Federation v1 → v2 upgrade rules to v1 subgraphs
//     (implicit shareability, `extend type` handling, unused @external removal).
//   - fieldset.go  parses @key/@requires/@provides field sets and resolves their fields.
//   - merge.go     merges types, fields, arguments, enums, inputs and unions and emits the
//     join__* directives exactly where Apollo's composition emits them.
//   - validate.go  the composition rules that reject a set of subgraphs (field sharing,
//     @override, interface keys, @interfaceObject usage).
//   - print.go     prints the supergraph the way Apollo prints it: definitions sorted by
//     name (ICU-like collation, as JavaScript's localeCompare), fields and values in
//     first-seen order across subgraphs sorted by subgraph name.
//   - specs.go     the link/join/tag/inaccessible/auth/cost spec definitions.
//
// Output is deterministic: subgraphs are processed in name order, types printed in the
// collation order Apollo uses, and everything else in first-seen order.
package compose
