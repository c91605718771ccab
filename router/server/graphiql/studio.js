// Studio Platform's GraphiQL set-up: everything is served by the router itself
// (see router/server/graphiql/update.sh); nothing is loaded from the internet.
(function () {
  'use strict';
  var endpoint = new URL('/graphql', window.location.href).toString();

  // Every request asks for the query plan; the router returns it in
  // extensions.queryPlan, which the result pane shows below the data.
  var fetcher = GraphiQL.createFetcher({
    url: endpoint,
    headers: { 'X-Studio-Query-Plan': 'true' },
  });

  var defaultQuery = [
    '# Welcome to the Studio Platform graph.',
    '#',
    '# Requests carry the header X-Studio-Query-Plan: true, so every response',
    '# shows the router\'s query plan under "extensions" -> "queryPlan".',
    '# Put {"Authorization": "Bearer <token>"} in the Headers tab to authenticate.',
    '',
    'query {',
    '  __typename',
    '}',
    '',
  ].join('\n');

  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      defaultEditorToolsVisibility: true,
      shouldPersistHeaders: false,
      storage: GraphiQL.createLocalStorage({ namespace: 'studio-graphiql' }),
    })
  );
})();
