// bocage codec sandbox prelude: the globals payload codecs commonly expect
// (a Node-like Buffer, console, module.exports, TextEncoder/TextDecoder, atob/btoa),
// evaluated in every QuickJS context before the codec's own source.
// Our own code; behaviour follows the Node.js Buffer documentation.
"use strict";

var __bocage_logs = [];

(function (g) {
  var MAX_LOGS = 50, MAX_LOG_CHARS = 1000;

  function show(v) {
    if (typeof v === "string") return v;
    try { var s = JSON.stringify(v); return s === undefined ? String(v) : s; }
    catch (e) { return String(v); }
  }
  function logger(level) {
    return function () {
      if (__bocage_logs.length >= MAX_LOGS) return;
      var parts = [];
      for (var i = 0; i < arguments.length; i++) parts.push(show(arguments[i]));
      var line = parts.join(" ");
      if (line.length > MAX_LOG_CHARS) line = line.slice(0, MAX_LOG_CHARS) + "...";
      __bocage_logs.push(level === "log" ? line : level + ": " + line);
    };
  }
  g.console = { log: logger("log"), info: logger("info"), debug: logger("debug"),
                warn: logger("warn"), error: logger("error"), trace: logger("trace") };

  g.module = { exports: {} };
  g.exports = g.module.exports;
  g.require = function (name) {
    throw new Error("require('" + name + "') is not available in the codec sandbox");
  };

  // -- text and base64 helpers -----------------------------------------------------
  var B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  var B64_INDEX = {};
  for (var k = 0; k < B64.length; k++) B64_INDEX[B64.charAt(k)] = k;
  B64_INDEX["-"] = 62; B64_INDEX["_"] = 63;  // base64url too, as Node accepts

  function base64Encode(bytes) {
    var out = "", i;
    for (i = 0; i + 2 < bytes.length; i += 3) {
      var n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
      out += B64.charAt(n >> 18) + B64.charAt((n >> 12) & 63) +
             B64.charAt((n >> 6) & 63) + B64.charAt(n & 63);
    }
    var rest = bytes.length - i;
    if (rest === 1) {
      var a = bytes[i] << 16;
      out += B64.charAt(a >> 18) + B64.charAt((a >> 12) & 63) + "==";
    } else if (rest === 2) {
      var b = (bytes[i] << 16) | (bytes[i + 1] << 8);
      out += B64.charAt(b >> 18) + B64.charAt((b >> 12) & 63) + B64.charAt((b >> 6) & 63) + "=";
    }
    return out;
  }
  function base64Decode(text) {
    var out = [], acc = 0, bits = 0;
    for (var i = 0; i < text.length; i++) {
      var c = text.charAt(i);
      if (c === "=") break;
      var v = B64_INDEX[c];
      if (v === undefined) continue;  // Node skips what is not base64
      acc = (acc << 6) | v; bits += 6;
      if (bits >= 8) { bits -= 8; out.push((acc >> bits) & 255); }
    }
    return out;
  }
  function hexDecode(text) {
    var out = [];
    for (var i = 0; i + 1 < text.length; i += 2) {
      var v = parseInt(text.substr(i, 2), 16);
      if (isNaN(v)) break;  // Node stops at the first pair that is not hex
      out.push(v);
    }
    return out;
  }
  function utf8Encode(text) {
    var out = [];
    for (var i = 0; i < text.length; i++) {
      var c = text.charCodeAt(i);
      if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
        var d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d < 0xe000) { c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); i++; }
      }
      if (c < 0x80) out.push(c);
      else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
      else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63),
                    0x80 | (c & 63));
    }
    return out;
  }
  function utf8Decode(bytes, start, end) {
    var out = "", i = start;
    while (i < end) {
      var c = bytes[i++], cp;
      if (c < 0x80) cp = c;
      else if (c >= 0xc0 && c < 0xe0 && i < end) cp = ((c & 31) << 6) | (bytes[i++] & 63);
      else if (c >= 0xe0 && c < 0xf0 && i + 1 < end) {
        cp = ((c & 15) << 12) | ((bytes[i] & 63) << 6) | (bytes[i + 1] & 63); i += 2;
      } else if (c >= 0xf0 && i + 2 < end) {
        cp = ((c & 7) << 18) | ((bytes[i] & 63) << 12) | ((bytes[i + 1] & 63) << 6) |
             (bytes[i + 2] & 63);
        i += 3;
      } else cp = 0xfffd;
      out += String.fromCodePoint(cp);
    }
    return out;
  }

  // -- Buffer ------------------------------------------------------------------------
  class Buffer extends Uint8Array {
    static from(value, encodingOrOffset, length) {
      if (typeof value === "string") return Buffer._fromString(value, encodingOrOffset);
      if (value instanceof ArrayBuffer) {
        var off = encodingOrOffset || 0;
        return new Buffer(value, off, length === undefined ? value.byteLength - off : length);
      }
      if (value && typeof value === "object" && value.type === "Buffer" &&
          Array.isArray(value.data)) value = value.data;
      if (value === null || value === undefined || typeof value.length !== "number")
        throw new TypeError("Buffer.from: expected a string, an array or an ArrayBuffer");
      var buf = new Buffer(value.length);
      for (var i = 0; i < value.length; i++) buf[i] = value[i] & 255;
      return buf;
    }
    static _fromString(text, encoding) {
      switch ((encoding || "utf8").toLowerCase()) {
        case "hex": return Buffer.from(hexDecode(text));
        case "base64": case "base64url": return Buffer.from(base64Decode(text));
        case "ascii": case "latin1": case "binary": {
          var buf = new Buffer(text.length);
          for (var i = 0; i < text.length; i++) buf[i] = text.charCodeAt(i) & 255;
          return buf;
        }
        case "utf8": case "utf-8": return Buffer.from(utf8Encode(text));
        default: throw new TypeError("Unknown encoding: " + encoding);
      }
    }
    static alloc(size, fill) {
      var buf = new Buffer(size);
      if (fill !== undefined) buf.fill(typeof fill === "number" ? fill : 0);
      return buf;
    }
    static allocUnsafe(size) { return new Buffer(size); }
    static isBuffer(value) { return value instanceof Buffer; }
    static isEncoding(enc) {
      return ["hex", "base64", "base64url", "ascii", "latin1", "binary", "utf8", "utf-8"]
        .indexOf(String(enc).toLowerCase()) >= 0;
    }
    static byteLength(text, encoding) {
      return typeof text === "string" ? Buffer._fromString(text, encoding).length : text.length;
    }
    static concat(list, total) {
      if (total === undefined) { total = 0; for (var i = 0; i < list.length; i++) total += list[i].length; }
      var out = Buffer.alloc(total), pos = 0;
      for (var j = 0; j < list.length && pos < total; j++) {
        var part = list[j];
        for (var n = 0; n < part.length && pos < total; n++) out[pos++] = part[n];
      }
      return out;
    }
    _view() { return new DataView(this.buffer, this.byteOffset, this.byteLength); }
    _check(offset, size) {
      offset = offset === undefined ? 0 : offset;
      if (typeof offset !== "number" || offset % 1 !== 0 || offset < 0 ||
          offset + size > this.length)
        throw new RangeError("The value of \"offset\" is out of range. It must be >= 0 and <= " +
                             (this.length - size) + ". Received " + offset);
      return offset;
    }
    readUInt8(o) { o = this._check(o, 1); return this[o]; }
    readInt8(o) { o = this._check(o, 1); return this._view().getInt8(o); }
    readUInt16LE(o) { o = this._check(o, 2); return this._view().getUint16(o, true); }
    readUInt16BE(o) { o = this._check(o, 2); return this._view().getUint16(o, false); }
    readInt16LE(o) { o = this._check(o, 2); return this._view().getInt16(o, true); }
    readInt16BE(o) { o = this._check(o, 2); return this._view().getInt16(o, false); }
    readUInt32LE(o) { o = this._check(o, 4); return this._view().getUint32(o, true); }
    readUInt32BE(o) { o = this._check(o, 4); return this._view().getUint32(o, false); }
    readInt32LE(o) { o = this._check(o, 4); return this._view().getInt32(o, true); }
    readInt32BE(o) { o = this._check(o, 4); return this._view().getInt32(o, false); }
    readFloatLE(o) { o = this._check(o, 4); return this._view().getFloat32(o, true); }
    readFloatBE(o) { o = this._check(o, 4); return this._view().getFloat32(o, false); }
    readDoubleLE(o) { o = this._check(o, 8); return this._view().getFloat64(o, true); }
    readDoubleBE(o) { o = this._check(o, 8); return this._view().getFloat64(o, false); }
    readBigUInt64LE(o) { o = this._check(o, 8); return this._view().getBigUint64(o, true); }
    readBigUInt64BE(o) { o = this._check(o, 8); return this._view().getBigUint64(o, false); }
    readBigInt64LE(o) { o = this._check(o, 8); return this._view().getBigInt64(o, true); }
    readBigInt64BE(o) { o = this._check(o, 8); return this._view().getBigInt64(o, false); }
    readUIntBE(o, n) {
      o = this._check(o, n); var v = 0;
      for (var i = 0; i < n; i++) v = v * 256 + this[o + i];
      return v;
    }
    readUIntLE(o, n) {
      o = this._check(o, n); var v = 0;
      for (var i = n - 1; i >= 0; i--) v = v * 256 + this[o + i];
      return v;
    }
    readIntBE(o, n) { var v = this.readUIntBE(o, n), m = Math.pow(2, 8 * n - 1); return v >= m ? v - 2 * m : v; }
    readIntLE(o, n) { var v = this.readUIntLE(o, n), m = Math.pow(2, 8 * n - 1); return v >= m ? v - 2 * m : v; }
    _write(o, size, fn) { o = this._check(o, size); fn(this._view(), o); return o + size; }
    writeUInt8(v, o) { return this._write(o, 1, function (d, p) { d.setUint8(p, v); }); }
    writeInt8(v, o) { return this._write(o, 1, function (d, p) { d.setInt8(p, v); }); }
    writeUInt16LE(v, o) { return this._write(o, 2, function (d, p) { d.setUint16(p, v, true); }); }
    writeUInt16BE(v, o) { return this._write(o, 2, function (d, p) { d.setUint16(p, v, false); }); }
    writeInt16LE(v, o) { return this._write(o, 2, function (d, p) { d.setInt16(p, v, true); }); }
    writeInt16BE(v, o) { return this._write(o, 2, function (d, p) { d.setInt16(p, v, false); }); }
    writeUInt32LE(v, o) { return this._write(o, 4, function (d, p) { d.setUint32(p, v, true); }); }
    writeUInt32BE(v, o) { return this._write(o, 4, function (d, p) { d.setUint32(p, v, false); }); }
    writeInt32LE(v, o) { return this._write(o, 4, function (d, p) { d.setInt32(p, v, true); }); }
    writeInt32BE(v, o) { return this._write(o, 4, function (d, p) { d.setInt32(p, v, false); }); }
    writeFloatLE(v, o) { return this._write(o, 4, function (d, p) { d.setFloat32(p, v, true); }); }
    writeFloatBE(v, o) { return this._write(o, 4, function (d, p) { d.setFloat32(p, v, false); }); }
    writeDoubleLE(v, o) { return this._write(o, 8, function (d, p) { d.setFloat64(p, v, true); }); }
    writeDoubleBE(v, o) { return this._write(o, 8, function (d, p) { d.setFloat64(p, v, false); }); }
    toString(encoding, start, end) {
      start = start || 0; end = end === undefined ? this.length : Math.min(end, this.length);
      var i, out = "";
      switch ((encoding || "utf8").toLowerCase()) {
        case "hex":
          for (i = start; i < end; i++) out += (this[i] < 16 ? "0" : "") + this[i].toString(16);
          return out;
        case "base64": return base64Encode(this.subarray(start, end));
        case "ascii":
          for (i = start; i < end; i++) out += String.fromCharCode(this[i] & 127);
          return out;
        case "latin1": case "binary":
          for (i = start; i < end; i++) out += String.fromCharCode(this[i]);
          return out;
        case "utf8": case "utf-8": return utf8Decode(this, start, end);
        default: throw new TypeError("Unknown encoding: " + encoding);
      }
    }
    toJSON() { return { type: "Buffer", data: Array.prototype.slice.call(this) }; }
    equals(other) {
      if (this.length !== other.length) return false;
      for (var i = 0; i < this.length; i++) if (this[i] !== other[i]) return false;
      return true;
    }
    // Node's slice is a view on the same memory, as subarray
    slice(start, end) { return this.subarray(start, end); }
    copy(target, targetStart, start, end) {
      targetStart = targetStart || 0; start = start || 0;
      end = end === undefined ? this.length : end;
      var n = 0;
      for (var i = start; i < end && targetStart + n < target.length; i++, n++)
        target[targetStart + n] = this[i];
      return n;
    }
  }
  // the lower-case aliases Node also has
  ["UInt8", "UInt16LE", "UInt16BE", "UInt32LE", "UInt32BE", "UIntLE", "UIntBE",
   "BigUInt64LE", "BigUInt64BE"].forEach(function (n) {
    var alias = n.replace("UInt", "Uint");
    Buffer.prototype["read" + alias] = Buffer.prototype["read" + n];
    if (Buffer.prototype["write" + n])
      Buffer.prototype["write" + alias] = Buffer.prototype["write" + n];
  });
  g.Buffer = Buffer;

  if (typeof g.btoa !== "function")
    g.btoa = function (s) { return base64Encode(Buffer._fromString(String(s), "latin1")); };
  if (typeof g.atob !== "function")
    g.atob = function (s) { return Buffer.from(base64Decode(String(s))).toString("latin1"); };
  if (typeof g.TextDecoder !== "function")
    g.TextDecoder = class TextDecoder {
      decode(bytes) { return bytes ? utf8Decode(bytes, 0, bytes.length) : ""; }
    };
  if (typeof g.TextEncoder !== "function")
    g.TextEncoder = class TextEncoder {
      encode(text) { return new Uint8Array(utf8Encode(String(text === undefined ? "" : text))); }
    };

  g.__bocage_hex = hexDecode;
})(globalThis);
