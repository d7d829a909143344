/**
 * The certreq enricher: what the certreq command line does (src/triage/certreq.ts) and the certreq severity table
 * (src/triage/severity.ts) for the alerts of the rules written for certreq — the built-in rule as published and its
 * two companions — and of any rule that asks for it (`procwatch: { enrich: certreq }`). Its fields, the intent, are
 * rendered as `procwatch.certreq`.
 */
import type { RuleMeta } from '../model/alert.js';
import type { CertreqIntent } from '../triage/certreq.js';
import { gradeCertreq } from '../triage/severity.js';
import type { Enricher } from './types.js';

/** The built-in rule as published, and procwatch's two companion rules. */
export const BUILTIN_CERTREQ_RULE = 'certreq-download-upload';
export const POST_URL_RULE = 'certreq-post-url-no-winini';
export const RENAMED_RULE = 'certreq-renamed';
export const CERTREQ_RULES: ReadonlySet<string> = new Set([BUILTIN_CERTREQ_RULE, POST_URL_RULE, RENAMED_RULE]);

export const certreqEnricher: Enricher<CertreqIntent> = {
  name: 'certreq',
  appliesTo: (rule: RuleMeta) => CERTREQ_RULES.has(rule.id),
  enrich(_alert, { facts }) {
    const t = gradeCertreq({
      ...(facts.image !== undefined ? { image: facts.image } : {}),
      ...(facts.originalFileName !== undefined ? { originalFileName: facts.originalFileName } : {}),
      ...(facts.commandLine !== undefined ? { commandLine: facts.commandLine } : {}),
    });
    return { severity: t.severity, reason: t.reason, grade: t.grade, ...(t.intent ? { fields: t.intent } : {}) };
  },
};
