/** The HTTP dialects' pure parts: Authorization forms, Splunk HEC envelopes, Elasticsearch bulk bodies. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractToken } from '../../src/server/auth.js';
import { splitHec } from '../../src/server/hec.js';
import { parseBulk } from '../../src/server/elastic.js';

test('token extraction from every Authorization form', () => {
  const t = 'tok-0123456789abcdef';
  assert.equal(extractToken(`Bearer ${t}`), t);
  assert.equal(extractToken(`splunk ${t}`), t);
  assert.equal(extractToken(`Basic ${Buffer.from(`elastic:${t}`).toString('base64')}`), t);
  assert.equal(extractToken(`ApiKey ${Buffer.from(`key-id:${t}`).toString('base64')}`), t);
  assert.equal(extractToken(`ApiKey ${t}`), t);
  assert.equal(extractToken(`Basic ${Buffer.from(t).toString('base64')}`), undefined, 'Basic without a password');
  assert.equal(extractToken(`Digest ${t}`), undefined);
  assert.equal(extractToken('Bearer'), undefined);
});

test('HEC bodies split back to back, with braces and quotes inside strings, one bad envelope numbered', () => {
  const a = JSON.stringify({ event: 'a "}{" b \\" {', host: 'x' });
  const body = `${a}${a}\n{"time": 1}\n  ${a}\n{"event": `;
  const pieces = splitHec(body);
  const cut = body.lastIndexOf('{"event": ');
  assert.deepEqual(pieces.map((p) => ('error' in p ? p.error : 'ok')), ['ok', 'ok', 'event 3: Event field is required', 'ok', `event 5: unterminated JSON object at offset ${cut}`]);
  assert.deepEqual((pieces[0] as { doc: unknown }).doc, JSON.parse(a));
  // Garbage before an envelope: reported, and the envelope on the next line is still taken.
  const resync = splitHec('garbage\n{"event":"x"}');
  assert.equal(resync.length, 2);
  assert.ok('error' in resync[0]! && 'doc' in resync[1]!);
});

test('bulk bodies: index/create pairs, delete/update refused per item, bad lines located', () => {
  const items = parseBulk(['{"index":{"_index":"a"}}', '{"x":1}', '{"delete":{"_id":"1"}}', '{"create":{}}', '{bad', 'nonsense', '{"update":{}}', '{"doc":{}}', ''].join('\n'), 'dflt');
  assert.deepEqual(items.map((i) => [i.op, i.index, i.line, i.error ?? 'ok']), [
    ['index', 'a', 1, 'ok'],
    ['delete', 'dflt', 3, 'delete is not supported: procwatch keeps events'],
    ['create', 'dflt', 4, items[2]!.error!],
    ['index', 'dflt', 6, items[3]!.error!],
    ['update', 'dflt', 7, 'update is not supported: send events with index or create'],
  ]);
  assert.match(items[2]!.error!, /^line 5: document is not JSON/);
  assert.match(items[3]!.error!, /^line 6: action is not JSON/);
});
