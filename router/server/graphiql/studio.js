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
    '# Every response shows the query plan',
    '# under extensions.queryPlan.',
    '# To sign in, add to the Headers tab:',
    '# {"Authorization": "Bearer <token>"}',
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
