// The npm packages graphql-ws and graphql-sse as clients of the real router.
// Run by TestSubscriptionsThroughTheRouter (internal/platform), which starts
// the platform, uploads a document and passes ROUTER_URL, TOKEN,
// DOCUMENT_ID, AFTER_ID (the id of the document's second event), LAST_ID
// and PROJECT_NAME.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { createClient as createWSClient } from 'graphql-ws';
import { createClient as createSSEClient } from 'graphql-sse';

const env = (name) => {
  const v = process.env[name];
  assert.ok(v, `${name} is not set`);
  return v;
};
const url = env('ROUTER_URL');
const token = env('TOKEN');
const documentId = env('DOCUMENT_ID');

const query = `subscription Progress($id: ID!, $after: ID) {
  documentProcessing(id: $id, after: $after) {
    id state progress final
    document { filename project { name } uploadedBy { email } }
  }
}`;

// collect subscribes with a client and resolves with every result, or
// rejects with the error the stream ended with.
function collect(client, variables) {
  return new Promise((resolve, reject) => {
    const results = [];
    client.subscribe({ query, variables }, {
      next: (r) => results.push(r),
      error: reject,
      complete: () => resolve(results),
    });
  });
}

test('graphql-ws: progress 0 to 100, completed by the router with compliance and identity', async () => {
  const client = createWSClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: true,
  });
  try {
    const results = await collect(client, { id: documentId });
    assert.deepEqual(results.map((r) => r.data.documentProcessing.progress), [0, 40, 70, 100]);
    for (const r of results) {
      assert.equal(r.errors, undefined);
      assert.equal(r.data.documentProcessing.document.project.name, env('PROJECT_NAME'));
      assert.match(r.data.documentProcessing.document.uploadedBy.email, /@/);
    }
    assert.equal(results.at(-1).data.documentProcessing.final, true);
  } finally {
    await client.dispose();
  }
});

test('graphql-ws: a validation error is an error message', async () => {
  const client = createWSClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  try {
    await assert.rejects(
      new Promise((resolve, reject) => {
        client.subscribe({ query: 'subscription { documentProcessing(id: "x") { nope } }' }, {
          next: () => {}, error: reject, complete: resolve,
        });
      }),
      (errs) => Array.isArray(errs) && errs[0].extensions.code === 'GRAPHQL_VALIDATION_FAILED',
    );
  } finally {
    await client.dispose();
  }
});

test('graphql-ws: a refused token closes the connection with 4403', async () => {
  const client = createWSClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: 'Bearer not-a-token' },
    retryAttempts: 0,
  });
  try {
    await assert.rejects(collect(client, { id: documentId }), (e) => e.code === 4403);
  } finally {
    await client.dispose();
  }
});

test('graphql-sse: distinct connections, resuming after an event id', async () => {
  const client = createSSEClient({
    url,
    headers: { Authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  try {
    const results = await collect(client, { id: documentId, after: env('AFTER_ID') });
    assert.deepEqual(results.map((r) => r.data.documentProcessing.progress), [70, 100]);
    assert.equal(results.at(-1).data.documentProcessing.id, env('LAST_ID'));
  } finally {
    client.dispose();
  }
});

test('graphql-sse: a query over the stream gives one result', async () => {
  const client = createSSEClient({ url, headers: { Authorization: `Bearer ${token}` }, retryAttempts: 0 });
  try {
    const results = await new Promise((resolve, reject) => {
      const out = [];
      client.subscribe({ query: 'query($id: ID!) { document(id: $id) { filename status } }', variables: { id: documentId } }, {
        next: (r) => out.push(r), error: reject, complete: () => resolve(out),
      });
    });
    assert.equal(results.length, 1);
    assert.equal(results[0].data.document.status, 'PROCESSED');
  } finally {
    client.dispose();
  }
});
