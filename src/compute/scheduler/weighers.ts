/**
 * The scheduler's weighers (nova/weights.py, nova/scheduler/weights): each gives every host that
 * passed the filters a raw weight; the raw weights of one weigher are normalised to 0..1 over
 * the hosts (all equal → all 0), multiplied by the weigher's multiplier and summed. The highest
 * total wins; equal totals keep the hosts' configuration order (Nova's stable sort).
 */
import { membersOn } from './filters';
import type { HostCandidate, RequestSpec } from './types';

export interface Weigher {
  /** Nova's class name. */
  readonly name: string;
  /** Nova's *_weight_multiplier: how much this weigher counts; negative reverses it. */
  readonly multiplier: number;
  /** Bounds of the normalisation (Nova's minval/maxval): raw weights are clamped to them. */
  readonly minval?: number;
  readonly maxval?: number;
  /** Higher wins. */
  weigh(host: HostCandidate, spec: RequestSpec): number;
}

/** Spreads by free RAM (ram_weight_multiplier 1.0): free = total less reserve, less what is allocated. */
export const RAMWeigher: Weigher = {
  name: 'RAMWeigher',
  multiplier: 1.0,
  minval: 0,
  weigh: (h) => h.memoryMb - h.usedMemoryMb,
};

/**
 * Prefers a host whose engine already holds the image (no load before the spawn). It counts for
 * 1 % of the RAM weigher: it decides between hosts whose free RAM differs by less than 1 % of the
 * roomiest one's, so spreading by free RAM stays the rule.
 */
export const ImagePresenceWeigher: Weigher = {
  name: 'ImagePresenceWeigher',
  multiplier: 0.01,
  weigh: (h) => (h.hasImage ? 1 : 0),
};

/** soft-affinity: the more members of the group on the host, the better (multiplier 1.0). */
export const ServerGroupSoftAffinityWeigher: Weigher = {
  name: 'ServerGroupSoftAffinityWeigher',
  multiplier: 1.0,
  weigh: (h, spec) => (spec.group?.policy === 'soft-affinity' ? membersOn(h.host, spec) : 0),
};

/** soft-anti-affinity: the fewer members of the group on the host, the better (multiplier 1.0). */
export const ServerGroupSoftAntiAffinityWeigher: Weigher = {
  name: 'ServerGroupSoftAntiAffinityWeigher',
  multiplier: 1.0,
  weigh: (h, spec) => (spec.group?.policy === 'soft-anti-affinity' ? -membersOn(h.host, spec) : 0),
};

export const DEFAULT_WEIGHERS: readonly Weigher[] = [RAMWeigher, ImagePresenceWeigher, ServerGroupSoftAffinityWeigher, ServerGroupSoftAntiAffinityWeigher];

/** nova.weights.normalize: to 0..1 between the bounds (the list's own unless given); all equal → 0. */
export function normalize(weights: readonly number[], minval?: number, maxval?: number): number[] {
  if (weights.length === 0) return [];
  const lo = minval ?? Math.min(...weights);
  const hi = maxval ?? Math.max(...weights);
  if (lo === hi) return weights.map(() => 0);
  return weights.map((w) => (w - lo) / (hi - lo));
}

/**
 * The hosts best first with their total weights (nova BaseWeightHandler.get_weighed_objects).
 * A single host is not weighed.
 */
export function weighHosts(hosts: readonly HostCandidate[], spec: RequestSpec, weighers: readonly Weigher[] = DEFAULT_WEIGHERS): { host: HostCandidate; weight: number }[] {
  const weighed = hosts.map((host) => ({ host, weight: 0 }));
  if (weighed.length <= 1) return weighed;
  for (const w of weighers) {
    const raw = hosts.map((h) => {
      let v = w.weigh(h, spec);
      if (w.minval !== undefined) v = Math.max(v, w.minval);
      if (w.maxval !== undefined) v = Math.min(v, w.maxval);
      return v;
    });
    const norm = normalize(raw, w.minval, w.maxval);
    for (let i = 0; i < weighed.length; i++) weighed[i].weight += w.multiplier * norm[i];
  }
  // Array.prototype.sort is stable: equal weights keep the configuration order.
  return weighed.sort((a, b) => b.weight - a.weight);
}
