/**
 * `procwatch policy certreq --allow SID[,SID…]`: writes an AppLocker policy that lets only those groups run
 * certreq.exe (the built-in rule's "restrict who may run certreq" as an artefact), and the PowerShell to test
 * and apply it. Audit-only unless --enforce.
 */
import { writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { certreqPolicy } from '../policy/applocker.js';
import { powershellLines } from '../policy/powershell.js';
import { parseAllowList, SidError, wellKnownNames } from '../policy/sid.js';
import { EXIT_OK, EXIT_USAGE, type SetExit } from './exit.js';

/** The policy file name the printed PowerShell assumes when the XML goes to stdout. */
const DEFAULT_POLICY_FILE = 'procwatch-certreq-applocker.xml';

interface CertreqOptions {
  allow: string[];
  output?: string;
  enforce?: boolean;
  restrictAdmins?: boolean;
  script?: string;
}

export function registerPolicy(program: Command, setExit: SetExit): void {
  const cmd = program.command('policy').description('write Windows policies that contain what the rules detect');
  cmd
    .command('certreq')
    .description('AppLocker policy (XML) that lets only the given groups run certreq.exe; audit-only unless --enforce')
    .requiredOption('--allow <sids>', `groups that may run certreq: SIDs (S-1-…) or well-known names (${wellKnownNames().slice(1, 3).join(', ')}, …); comma-separated, repeatable`, collect, [])
    .option('-o, --output <file>', 'write the policy XML to this file instead of stdout')
    .option('--enforce', 'EnforcementMode="Enabled" (block); the default is AuditOnly (only log event 8003)')
    .option('--restrict-admins', "also except certreq from the Administrators' run-everything rule (admins then need an --allow group too)")
    .option('--script <file>', 'write the PowerShell test/apply lines to this file instead of stderr')
    .action(async (options: CertreqOptions) => setExit(await runCertreq(options)));
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function runCertreq(options: CertreqOptions): Promise<number> {
  let allow: string[];
  try {
    allow = parseAllowList(options.allow);
  } catch (err) {
    if (!(err instanceof SidError)) throw err;
    process.stderr.write(`procwatch policy certreq: --allow: ${err.message}\n`);
    return EXIT_USAGE;
  }
  const policy = certreqPolicy({ allow, enforce: options.enforce, restrictAdmins: options.restrictAdmins });
  const policyFile = options.output ? `.\\${basename(options.output)}` : `.\\${DEFAULT_POLICY_FILE}`;
  const script = `${powershellLines({ policyFile, mode: policy.mode }).join('\n')}\n`;
  try {
    if (options.output) await writeFile(options.output, policy.xml);
    else process.stdout.write(policy.xml);
    if (options.script) await writeFile(options.script, script);
    else process.stderr.write(script);
  } catch (err) {
    // Only file-system errors reach here (unwritable path, missing directory): a usage problem, reported with the path.
    process.stderr.write(`procwatch policy certreq: ${(err as Error).message}\n`);
    return EXIT_USAGE;
  }
  return EXIT_OK;
}
