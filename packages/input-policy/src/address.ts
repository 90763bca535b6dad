// The address policy for network inputs. Every address a job's input would reach is parsed with ipaddr.js (so
// decimal, octal, hex and short IPv4 forms such as 2130706433, 0x7f.1 and 127.1 are the addresses they stand
// for), IPv4 forms carried in IPv6 (mapped, compatible, NAT64, 6to4) are judged by the IPv4 address inside, and
// only global unicast addresses pass, unless the operator allows a range (VDET_INPUT_ALLOW_ADDRESSES).

import ipaddr from "ipaddr.js";

export type IpAddress = ipaddr.IPv4 | ipaddr.IPv6;

/** ipaddr.js's range names, in the words the errors use. */
const RANGE_WORDS: Record<string, string> = {
  unspecified: "unspecified",
  broadcast: "broadcast",
  multicast: "multicast",
  linkLocal: "link-local",
  loopback: "loopback",
  carrierGradeNat: "carrier-grade NAT (100.64.0.0/10)",
  private: "private (RFC 1918)",
  uniqueLocal: "private (fc00::/7)",
  reserved: "reserved",
  benchmarking: "benchmarking",
  amt: "AMT relay",
  as112: "AS112",
  as112v6: "AS112",
  teredo: "Teredo",
  deprecatedSiteLocal: "site-local",
  discard: "discard",
  orchid2: "ORCHID",
  deprecatedOrchid: "ORCHID",
  droneRemoteIdProtocolEntityTags: "reserved",
  rfc6145: "IPv4-translated",
};

/**
 * Parses a host as an IP address the way a resolver would read it (brackets removed, IPv4 in any numeric form);
 * null for a DNS name.
 */
export function parseAddress(host: string): IpAddress | null {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  // A trailing dot is how resolvers spell an absolute name: "127.1." is still 127.0.0.1 to getaddrinfo.
  const text = bare.endsWith(".") ? bare.slice(0, -1) : bare;
  if (!ipaddr.isValid(text)) return null;
  try {
    return ipaddr.parse(text);
  } catch {
    return null;
  }
}

/** The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), if any. */
function embeddedIpv4(address: ipaddr.IPv6): ipaddr.IPv4 | null {
  const p = address.parts;
  const v4 = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  const range = address.range();
  if (range === "ipv4Mapped" || range === "rfc6145" || range === "rfc6052") return v4(p[6], p[7]);
  if (range === "6to4") return v4(p[1], p[2]);
  return null;
}

/** A CIDR range the operator allows (VDET_INPUT_ALLOW_ADDRESSES); a bare address is a range of one. */
export type AllowedRange = [IpAddress, number];

export function parseRanges(entries: readonly string[]): AllowedRange[] {
  return entries.map((entry) => {
    const text = entry.trim();
    try {
      if (text.includes("/")) return ipaddr.parseCIDR(text);
      const address = ipaddr.parse(text);
      return [address, address.kind() === "ipv4" ? 32 : 128];
    } catch {
      throw new Error(`"${entry}" is not an address or a CIDR range (e.g. 127.0.0.1/32, fd00::/8)`);
    }
  });
}

function inRanges(address: IpAddress, ranges: readonly AllowedRange[]): boolean {
  return ranges.some(
    ([base, bits]) =>
      base.kind() === address.kind() && (address as ipaddr.IPv4).match(base as ipaddr.IPv4, bits),
  );
}

/**
 * Why `address` may not be reached, or null when it may: global unicast passes, and so does anything inside an
 * allowed range; everything else is named by its range.
 */
export function addressProblem(address: IpAddress, allowed: readonly AllowedRange[] = []): string | null {
  if (inRanges(address, allowed)) return null;
  if (address.kind() === "ipv6") {
    const v6 = address as ipaddr.IPv6;
    const inner = embeddedIpv4(v6);
    if (inner !== null) {
      const problem = addressProblem(inner, allowed);
      return problem === null ? null : `${problem} (inside ${v6.toString()})`;
    }
  }
  const range = address.range();
  if (address.kind() === "ipv6" && (address as ipaddr.IPv6).parts.slice(0, 6).every((x) => x === 0)) {
    // ::/96 besides :: and ::1: IPv4-compatible addresses (deprecated by RFC 4291), never a real input.
    if (range !== "unspecified" && range !== "loopback") {
      return `${address.toString()} is an IPv4-compatible IPv6 address (deprecated)`;
    }
  }
  if (range === "unicast") return null;
  return `${address.toString()} is a ${RANGE_WORDS[range] ?? range} address`;
}
