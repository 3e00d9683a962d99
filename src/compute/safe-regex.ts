/**
 * User-supplied regular expressions for list filters (`name`, `ip`, `ip6`: Nova searches them
 * unanchored, as Python's re.search). JavaScript's engine backtracks, so a hostile pattern such
 * as `(a+)+$` could hold the event loop for ever: patterns are length-limited, and those whose
 * running time can explode (a quantified group that itself holds a quantifier or an alternation,
 * or a back-reference) are refused with a 400 instead of being run.
 */
import { badRequest } from '../errors';

const MAX_PATTERN = 255;

/** True when some quantified group contains a quantifier or `|` (star height > 1 or ambiguity). */
function explosive(pattern: string): boolean {
  // For each open group: does its body hold a quantifier or an alternation?
  const stack: { risky: boolean }[] = [];
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const n = pattern[i + 1];
      if (n !== undefined && /[1-9k]/.test(n)) return true; // back-references
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      continue;
    }
    if (c === '(') {
      stack.push({ risky: false });
      continue;
    }
    const quantifier = c === '*' || c === '+' || c === '?' || (c === '{' && /^\{\d+(,\d*)?\}/.test(pattern.slice(i)));
    if (c === ')') {
      const group = stack.pop();
      const next = pattern[i + 1];
      const quantified = next === '*' || next === '+' || (next === '{' && /^\{\d+(,\d*)?\}/.test(pattern.slice(i + 1)) && !/^\{(\d+)(,\1)?\}/.test(pattern.slice(i + 1)));
      if (group?.risky && quantified) return true;
      if (group?.risky && stack.length) stack[stack.length - 1].risky = true;
      if (quantified && stack.length) stack[stack.length - 1].risky = true;
      continue;
    }
    if ((quantifier || c === '|') && stack.length) {
      // `(?:` / `(?=` / `(?<` start with a ? that is not a quantifier.
      if (c === '?' && pattern[i - 1] === '(') continue;
      stack[stack.length - 1].risky = true;
    }
  }
  return false;
}

/**
 * Compiles a filter pattern (case-sensitive, unanchored, like Nova on SQLite/MySQL with regexp).
 * Throws a 400 naming the filter for invalid or unsafe patterns.
 */
export function filterRegex(field: string, pattern: string): RegExp {
  if (pattern.length > MAX_PATTERN) throw badRequest(`Invalid filter ${field}: the regular expression is longer than ${MAX_PATTERN} characters.`);
  if (explosive(pattern)) {
    throw badRequest(`Invalid filter ${field}: '${pattern}' nests repetitions or uses back-references, which this cloud does not evaluate.`);
  }
  try {
    return new RegExp(pattern, 'u');
  } catch {
    try {
      // Python's re accepts some escapes the 'u' flag refuses (e.g. "\-" outside a class).
      return new RegExp(pattern);
    } catch (e) {
      throw badRequest(`Invalid filter ${field}: '${pattern}' is not a valid regular expression (${(e as Error).message}).`);
    }
  }
}
