// @tickstem/heartbeat@0.2.0 (published on npm) imports TickstemClient and APIError from
// @tickstem/core@0.2.0, which the npm registry reachable here does not have. This stand-in is our own
// code, written from the wire behaviour API-CONTRACT.md documents for core 0.2.0 (§1.3, §1.5, C8), so
// the published heartbeat package runs unchanged on top of it:
// - Authorization: Bearer <key>, Accept and Content-Type: application/json on every request, even a
//   GET, a DELETE or a body-less POST; User-Agent: tickstem-node/<version>; no timeout.
// - errors read `error`, then `message`, then the status text;
// - every successful body goes through JSON.parse, so an empty body (a 204) throws.
export class APIError extends Error {
  constructor(statusCode, message) {
    super(message)
    this.name = "APIError"
    this.statusCode = statusCode
  }
}

export class TickstemClient {
  constructor(apiKey, version, options = {}) {
    this.apiKey = apiKey
    this.version = version
    this.baseURL = options.baseURL ?? "https://api.tickstem.dev/v1"
  }

  async request(method, path, body) {
    const response = await fetch(`${this.baseURL}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${this.apiKey}`,
        Accept: "application/json",
        "Content-Type": "application/json",
        "User-Agent": `tickstem-node/${this.version}`,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await response.text()
    if (!response.ok) {
      let message = response.statusText
      try {
        const json = JSON.parse(text)
        message = json.error ?? json.message ?? message
      } catch {}
      throw new APIError(response.status, message)
    }
    return JSON.parse(text)
  }
}
