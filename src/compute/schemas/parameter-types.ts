/**
 * Schema fragments the compute request schemas share, after nova/api/validation/parameter_types.py.
 */

/**
 * parameter_types.name: 1–255 printable characters (no control characters, no line or paragraph
 * separators), no leading or trailing horizontal space.
 */
export const NAME_PATTERN = '^(?!\\p{Zs})[^\\p{C}\\p{Zl}\\p{Zp}]*(?<!\\p{Zs})$';
export const name = { type: 'string', minLength: 1, maxLength: 255, pattern: NAME_PATTERN };

/** parameter_types.boolean: the spellings Nova accepts for booleans in bodies. */
export const booleanLike = {
  type: ['boolean', 'string'],
  enum: [true, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes',
    false, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no'],
};

/** A value that passed `booleanLike`, as a boolean. */
export function toBool(v: unknown): boolean {
  return v === true || (typeof v === 'string' && ['true', '1', 'on', 'yes'].includes(v.toLowerCase()));
}
