// The API from the page: same-origin fetch with the session cookie, and the
// session's CSRF token on every request that changes state.

let csrf = "";
let onSignedOut = () => {};

export function setSession(s, signedOutFn) {
    csrf = (s && s.csrf) || "";
    if (signedOutFn) onSignedOut = signedOutFn;
}

export class ApiError extends Error {
    constructor(status, body) {
        const e = body && body.error;
        super(e ? `${e.message}${e.field ? ` (${e.field})` : ""}` : `HTTP ${status}`);
        this.status = status;
        this.code = e ? e.code : "";
    }
}

// JSON (or text) of method path; throws ApiError unless 2xx.
export async function api(method, path, body, opts) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = csrf;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(path, { method, headers, credentials: "same-origin", cache: "no-store",
                                  body: body === undefined ? undefined : JSON.stringify(body) });
    const type = r.headers.get("Content-Type") || "";
    const data = r.status === 204 ? null : type.startsWith("application/json") ? await r.json() : await r.text();
    if (r.status === 401 && !(opts && opts.noSignout)) onSignedOut("expired");
    if (!r.ok) throw new ApiError(r.status, data);
    return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body === undefined ? {} : body);
export const del = (path) => api("DELETE", path);
