/** Timestamps, integers, GUIDs and keywords as every dialect writes them → one canonical form. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isBareGuid, normaliseGuid, normaliseKeywords, normaliseTime, toInt } from '../../src/formats/normalise.js';

test('normaliseTime: ISO UTC with Z, fraction kept up to 7 digits, zones applied, zone-less taken as UTC', () => {
  const cases: Array<[unknown, string | undefined]> = [
    ['2020-12-03T00:26:42.364910700Z', '2020-12-03T00:26:42.3649107Z'], // wevtutil 9 digits
    ['2024-05-01T10:15:30.1234567Z', '2024-05-01T10:15:30.1234567Z'],
    ['2018-07-28T07:24:45.754787Z', '2018-07-28T07:24:45.754787Z'], // evtx_dump
    ['2020-10-27T20:00:14.320Z', '2020-10-27T20:00:14.320Z'],
    ['2024-05-01T10:15:30Z', '2024-05-01T10:15:30Z'],
    ['2025-10-25 17:02:36.900639', '2025-10-25T17:02:36.900639Z'], // python-evtx, UTC without zone
    ['2021-04-05 12:10:09', '2021-04-05T12:10:09Z'],
    ['2021-04-05T12:10:09.353+08:00', '2021-04-05T04:10:09.353Z'],
    ['2021-04-05T01:10:09-0300', '2021-04-05T04:10:09Z'],
    ['2021-04-04T23:10:09.1234567-05:00', '2021-04-05T04:10:09.1234567Z'],
    ['/Date(1606955202364)/', '2020-12-03T00:26:42.364Z'], // PowerShell ConvertTo-Json
    [1606955202.364, '2020-12-03T00:26:42.364Z'], // Splunk HEC time (seconds)
    [1606955202364, '2020-12-03T00:26:42.364Z'], // epoch milliseconds
    ['2020-13-03T00:26:42Z', undefined],
    ['2020-12-03T25:26:42Z', undefined],
    ['20B8-07-28T07:24:45Z', undefined],
    ['yesterday', undefined],
    [null, undefined],
  ];
  for (const [input, expected] of cases) assert.equal(normaliseTime(input), expected, String(input));
});

test('toInt, GUIDs, keywords', () => {
  assert.deepEqual(['3316', 3316, '0x1a2c', '0X1A2C', '', 'x', '12abc', 1.5].map(toInt), [3316, 3316, 0x1a2c, 0x1a2c, undefined, undefined, undefined, undefined]);
  assert.equal(normaliseGuid('5770385f-c22a-43e0-bf4c-06f5698ffbd9'), '{5770385F-C22A-43E0-BF4C-06F5698FFBD9}');
  assert.equal(normaliseGuid('{5770385f-c22a-43e0-bf4c-06f5698ffbd9}'), '{5770385F-C22A-43E0-BF4C-06F5698FFBD9}');
  assert.equal(isBareGuid('84453EAB-30C2-5FC8-B4AA-080200000000'), true);
  assert.equal(isBareGuid('{84453EAB-30C2-5FC8-B4AA-080200000000}'), false);
  assert.equal(isBareGuid('84453EAB-30C2-5FC8-B4AA-08020000000G'), false);
  assert.equal(normaliseKeywords(-9223372036854775808), '0x8000000000000000');
  assert.equal(normaliseKeywords('0x8020000000000000'), '0x8020000000000000');
  assert.equal(normaliseKeywords(['Audit Success']), undefined);
});
