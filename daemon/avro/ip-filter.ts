import { LogflowError } from '../errors.js';

/**
 * Flume's avro source `ipFilterRules`: `allow:ip:127.*,deny:ip:*`. Rules are tried in order
 * and the first whose pattern matches the peer's address decides; an address no rule
 * matches is allowed (Netty's IpFilterRuleHandler, which Flume uses), so a list usually
 * ends with `deny:ip:*`. Patterns take `*` (any characters) and `?` (one character).
 * `name:` rules (reverse DNS on every connection) are not supported.
 */
export interface IpFilterRule {
  readonly allow: boolean;
  readonly pattern: string;
  readonly regex: RegExp;
}

/** Parses the rule list; throws an Error whose message names the bad rule. */
export function parseIpFilterRules(text: string): IpFilterRule[] {
  const rules = text.split(',').map((r) => r.trim()).filter((r) => r.length > 0);
  if (rules.length === 0) throw new LogflowError('LF_IP_FILTER_RULE', 'no rules (example: allow:ip:127.*,deny:ip:*)');
  return rules.map((rule) => {
    const first = rule.indexOf(':');
    const second = rule.indexOf(':', first + 1);
    const [action, kind, pattern] = first < 0 || second < 0 ? [rule, '', ''] : [rule.slice(0, first), rule.slice(first + 1, second), rule.slice(second + 1)];
    if (action !== 'allow' && action !== 'deny') throw new LogflowError('LF_IP_FILTER_RULE', `${JSON.stringify(rule)}: starts with neither allow: nor deny:`);
    if (kind === 'name') throw new LogflowError('LF_IP_FILTER_RULE', `${JSON.stringify(rule)}: name: rules (reverse DNS) are not supported; use ip: rules`);
    if (kind !== 'ip') throw new LogflowError('LF_IP_FILTER_RULE', `${JSON.stringify(rule)}: the second part must be ip`);
    if (pattern === '' || !/^[0-9A-Fa-f.:*?]+$/.test(pattern)) throw new LogflowError('LF_IP_FILTER_RULE', `${JSON.stringify(rule)}: the pattern must be an address with * and ? wildcards`);
    const regex = new RegExp('^' + pattern.replace(/\./g, '\\.').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i');
    return { allow: action === 'allow', pattern, regex };
  });
}

/** Whether the rules let `address` connect (an IPv4-mapped IPv6 address is matched as IPv4). */
export function ipAllowed(rules: readonly IpFilterRule[], address: string | undefined): boolean {
  if (address === undefined) return false;
  const ip = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
  for (const rule of rules) if (rule.regex.test(ip)) return rule.allow;
  return true;
}
