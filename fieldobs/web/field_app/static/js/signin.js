// Signing in and out: the sign-in screen, which keeps the session on the phone, and signing
// out, which forgets the token but keeps the person's drafts and outbox.

import { HttpError, NetError, request, signIn } from "./api.js";
import { app, header } from "./app.js";
import { setMeta } from "./store.js";
import { el } from "./util.js";

export function signInScreen() {
  document.title = "Sign in · fieldobs";
  const expired = app.session?.expired;
  const errors = el("div", { class: "error-summary", role: "alert", tabindex: "-1", hidden: true });
  const user = el("input", {
    id: "username", name: "username", autocomplete: "username", autocapitalize: "none",
    spellcheck: "false", required: true, value: app.session?.username || "",
  });
  const pass = el("input", {
    id: "password", name: "password", type: "password", autocomplete: "current-password",
    required: true,
  });
  const button = el("button", { type: "submit", class: "primary big" }, "Sign in");
  const fail = (message, field) => {
    errors.replaceChildren(el("h2", {}, "There is a problem"), el("ul", {}, el("li", {},
      el("a", { href: `#${field.id}`, onclick: (e) => { e.preventDefault(); field.focus(); } },
        message))));
    errors.hidden = false;
    errors.focus();
  };
  const form = el("form", {
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      if (!user.value.trim()) return fail("Enter your username", user);
      if (!pass.value) return fail("Enter your password", pass);
      button.disabled = true;
      try {
        const answer = await signIn(user.value.trim(), pass.value);
        if (!["shopper", "manager"].includes(answer.role)) {
          return fail("This app is for shoppers and store managers: use the console.", user);
        }
        app.session = {
          username: user.value.trim(), role: answer.role, token: answer.token,
          expires_at: answer.expires_at || null, expired: false,
        };
        await setMeta("session", app.session);
        // Ask the browser not to clear drafts and the outbox when space runs low.
        if (navigator.storage?.persist) {
          await setMeta("persisted", await navigator.storage.persist().catch(() => false));
        }
        location.hash = "#/";
        app.render();
        app.sync.run({ force: true });
      } catch (error) {
        if (error instanceof NetError) {
          fail("No connection: signing in needs the network once.", user);
        } else if (error instanceof HttpError && error.status === 401) {
          fail("The username or password is not right.", pass);
        } else {
          fail(`Could not sign in: ${error.message}`, user);
        }
      } finally {
        button.disabled = false;
      }
    },
  },
  errors,
  expired ? el("div", { class: "notice warn" }, el("p", {},
    "Your session has ended. Sign in again to send your visits: your drafts and the outbox ",
    "are kept on this phone.")) : null,
  el("p", { class: "intro" }, "Mystery shops and store walk-throughs, with or without a ",
    "connection. Sign in once online; after that the app works offline."),
  el("label", { for: "username" }, "Username"), user,
  el("label", { for: "password" }, "Password"), pass,
  button);
  app.main.replaceChildren(header("Sign in"), el("div", { class: "page" }, form));
}

export async function signOut() {
  const token = app.session.token;
  app.session = {
    username: app.session.username, role: app.session.role, token: null, expired: false,
  };
  await setMeta("session", app.session);
  // The drafts and outbox stay, bound to this person, until they sign in again.
  request("auth/token", { method: "DELETE", token }).catch(() => {});
  app.render();
}
