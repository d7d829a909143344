/**
 * MITRE ATT&CK mapping from Sigma tags (`attack.defense-evasion`, `attack.t1027`, `attack.t1059.001`).
 * Tactic names and ids are the 14 Enterprise tactics; technique names are not shipped (ids are authoritative).
 */
const TACTICS: Record<string, { id: string; name: string }> = {
  'reconnaissance': { id: 'TA0043', name: 'Reconnaissance' },
  'resource-development': { id: 'TA0042', name: 'Resource Development' },
  'initial-access': { id: 'TA0001', name: 'Initial Access' },
  'execution': { id: 'TA0002', name: 'Execution' },
  'persistence': { id: 'TA0003', name: 'Persistence' },
  'privilege-escalation': { id: 'TA0004', name: 'Privilege Escalation' },
  'defense-evasion': { id: 'TA0005', name: 'Defense Evasion' },
  'credential-access': { id: 'TA0006', name: 'Credential Access' },
  'discovery': { id: 'TA0007', name: 'Discovery' },
  'lateral-movement': { id: 'TA0008', name: 'Lateral Movement' },
  'collection': { id: 'TA0009', name: 'Collection' },
  'command-and-control': { id: 'TA0011', name: 'Command and Control' },
  'exfiltration': { id: 'TA0010', name: 'Exfiltration' },
  'impact': { id: 'TA0040', name: 'Impact' },
};
const TACTIC_BY_ID = new Map(Object.values(TACTICS).map((t) => [t.id.toLowerCase(), t]));

export interface AttackMapping {
  tactics: { id: string; name: string; reference: string }[];
  techniques: { id: string; reference: string }[];
}

export function attackFromTags(tags: readonly string[]): AttackMapping {
  const tactics = new Map<string, { id: string; name: string; reference: string }>();
  const techniques = new Map<string, { id: string; reference: string }>();
  for (const raw of tags) {
    const tag = raw.toLowerCase();
    if (!tag.startsWith('attack.')) continue;
    const name = tag.slice('attack.'.length);
    const tactic = TACTICS[name.replace(/_/g, '-')] ?? TACTIC_BY_ID.get(name);
    if (tactic) {
      tactics.set(tactic.id, { ...tactic, reference: `https://attack.mitre.org/tactics/${tactic.id}/` });
      continue;
    }
    const technique = /^t(\d{4})(?:\.(\d{3}))?$/.exec(name);
    if (technique) {
      const id = `T${technique[1]}${technique[2] ? `.${technique[2]}` : ''}`;
      const path = technique[2] ? `${technique[1]}/${technique[2]}` : technique[1];
      techniques.set(id, { id, reference: `https://attack.mitre.org/techniques/T${path}/` });
    }
  }
  return { tactics: [...tactics.values()], techniques: [...techniques.values()] };
}
