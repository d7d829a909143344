/** Sigma correlation rules: event_count, value_count, temporal, temporal_ordered; group-by, timespan, generate. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engineFor } from './support/rules.js';
import { security } from './support/events.js';

const base = `title: Failed logon
id: failed-logon
name: failed_logon
logsource: {product: windows, service: security}
detection: {s: {EventID: 4625}, condition: s}
---
title: Successful logon
id: ok-logon
name: ok_logon
logsource: {product: windows, service: security}
detection: {s: {EventID: 4624}, condition: s}
`;

const at = (sec: number): string => new Date(Date.UTC(2024, 0, 1, 0, 0, sec)).toISOString();
const ids = (ds: Array<{ rule: { id: string } }>): string[] => ds.map((d) => d.rule.id);

test('event_count with group-by and timespan fires once when the threshold is reached', () => {
  const engine = engineFor(`${base}---
title: Brute force
id: brute
correlation:
    type: event_count
    rules: [failed_logon]
    group-by: [TargetUserName]
    timespan: 10s
    condition: {gte: 3}
`);
  const out: string[] = [];
  const feed = (user: string, s: number): void => {
    out.push(...ids(engine.match(security(4625, { TargetUserName: user }, at(s)))));
  };
  feed('alice', 0);
  feed('bob', 1);
  feed('alice', 2);
  feed('alice', 30); // outside the window of the first two
  assert.deepEqual(out, []);
  feed('alice', 31);
  feed('alice', 32);
  assert.deepEqual(out, ['brute']);
  assert.deepEqual(ids(engine.flush()), []);
});

test('value_count counts distinct values', () => {
  const engine = engineFor(`${base}---
title: Spray
id: spray
correlation:
    type: value_count
    rules: failed_logon
    group-by: IpAddress
    timespan: 1m
    condition: {gte: 3, field: TargetUserName}
`);
  let fired = 0;
  for (const [i, user] of ['a', 'a', 'b', 'a', 'c'].entries()) fired += engine.match(security(4625, { IpAddress: '10.0.0.5', TargetUserName: user }, at(i))).length;
  assert.equal(fired, 1);
});

test('temporal and temporal_ordered; generate controls base-rule alerts', () => {
  const temporal = engineFor(`${base}---
title: Fail then success
id: fail-success
correlation:
    type: temporal_ordered
    rules: [failed_logon, ok_logon]
    group-by: [TargetUserName]
    timespan: 5m
`);
  assert.deepEqual(ids(temporal.match(security(4624, { TargetUserName: 'x' }, at(0)))), [], 'success before failure: nothing, base rules silent');
  assert.deepEqual(ids(temporal.match(security(4625, { TargetUserName: 'x' }, at(1)))), []);
  assert.deepEqual(ids(temporal.match(security(4624, { TargetUserName: 'y' }, at(2)))), [], 'other group');
  assert.deepEqual(ids(temporal.match(security(4624, { TargetUserName: 'x' }, at(3)))), ['fail-success']);

  const unordered = engineFor(`${base}---
title: Both
id: both
correlation:
    type: temporal
    rules: [failed_logon, ok_logon]
    group-by: [TargetUserName]
    timespan: 5m
    generate: true
`);
  assert.deepEqual(ids(unordered.match(security(4624, { TargetUserName: 'x' }, at(0)))), ['ok-logon']);
  assert.deepEqual(ids(unordered.match(security(4625, { TargetUserName: 'x' }, at(1)))), ['failed-logon', 'both']);
});

test('upper-bound conditions are decided at flush', () => {
  const engine = engineFor(`${base}---
title: Rare
id: rare
correlation:
    type: event_count
    rules: [ok_logon]
    group-by: [TargetUserName]
    timespan: 1h
    condition: {lt: 2}
`);
  engine.match(security(4624, { TargetUserName: 'a' }, at(0)));
  engine.match(security(4624, { TargetUserName: 'b' }, at(1)));
  engine.match(security(4624, { TargetUserName: 'b' }, at(2)));
  const flushed = engine.flush();
  assert.deepEqual(ids(flushed), ['rare']);
  assert.equal(flushed[0]!.event.data.TargetUserName, 'a');
});
