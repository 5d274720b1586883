// Todo UI: plain JS, no build step. The token lives in sessionStorage: it survives a reload of
// this tab but not the tab itself, is not shared with other tabs, and is never sent
// automatically (no cookie, hence no CSRF). The CSP (script-src 'self', no inline script)
// limits what injected markup could do; all text is inserted with textContent.
"use strict";

const TOKEN_KEY = "griddb-todo.token";
const USER_KEY = "griddb-todo.user";
const $ = (id) => document.getElementById(id);

function showStatus(message) {
  // The region stays in the page (an empty one takes no space), so that assistive technology
  // announces each new message; text only, never markup.
  $("status").textContent = message || "";
}

function token() { return sessionStorage.getItem(TOKEN_KEY); }

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  const t = token();
  if (t) headers["Authorization"] = "Bearer " + t;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new Error("The server cannot be reached. Check your connection and try again.");
  }
  if (resp.status === 204) return null;
  let data = null;
  try { data = await resp.json(); } catch (e) { /* not JSON */ }
  if (!resp.ok) {
    const err = new Error((data && data.detail) || ("Request failed (" + resp.status + ")"));
    err.status = resp.status;
    throw err;
  }
  return data;
}

function handleError(e) {
  if (e.status === 401 && token()) {
    logout();
    showStatus("Your session has ended. Please log in again.");
    return;
  }
  showStatus(e.message);
}

function setView(loggedIn) {
  $("login-view").hidden = loggedIn;
  $("todo-view").hidden = !loggedIn;
  $("who").hidden = !loggedIn;
  $("who-name").textContent = loggedIn ? "Signed in as " + (sessionStorage.getItem(USER_KEY) || "") : "";
}

function logout() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
  $("todos").replaceChildren();
  setView(false);
  $("username").focus();
}

function renderCount(items) {
  const open = items.filter((t) => !t.done).length;
  $("count").textContent = items.length ? `${open} open, ${items.length - open} done` : "";
  $("empty").hidden = items.length > 0;
}

function todoItem(todo) {
  const li = document.createElement("li");
  li.dataset.id = todo.id;
  li.className = todo.done ? "done" : "";

  const box = document.createElement("input");
  box.type = "checkbox";
  box.checked = todo.done;
  box.id = "done-" + todo.id;
  box.setAttribute("aria-label", "Done: " + todo.title);
  box.addEventListener("change", async () => {
    box.disabled = true;
    try {
      const updated = await api("PATCH", "/api/todos/" + encodeURIComponent(todo.id), { done: box.checked });
      showStatus("");
      li.replaceWith(todoItem(updated));
      document.getElementById("done-" + todo.id).focus();
      await refreshCount();
    } catch (e) { box.checked = !box.checked; box.disabled = false; handleError(e); }
  });

  const title = document.createElement("span");
  title.className = "title";
  title.textContent = todo.title;

  const rename = document.createElement("button");
  rename.type = "button";
  rename.className = "secondary";
  rename.textContent = "Rename";
  rename.setAttribute("aria-label", "Rename: " + todo.title);
  rename.addEventListener("click", () => startRename(li, todo));

  const del = document.createElement("button");
  del.type = "button";
  del.className = "danger";
  del.textContent = "Delete";
  del.setAttribute("aria-label", "Delete: " + todo.title);
  del.addEventListener("click", async () => {
    del.disabled = true;
    try {
      await api("DELETE", "/api/todos/" + encodeURIComponent(todo.id));
      showStatus("");
      const next = li.nextElementSibling || li.previousElementSibling;
      li.remove();
      (next ? next.querySelector("input[type=checkbox]") : $("new-title")).focus();
      await refreshCount();
    } catch (e) { del.disabled = false; handleError(e); }
  });

  li.append(box, title, rename, del);
  return li;
}

function startRename(li, todo) {
  const form = document.createElement("form");
  form.className = "row";
  form.noValidate = true;
  const label = document.createElement("label");
  label.className = "visually-hidden";
  label.htmlFor = "edit-" + todo.id;
  label.textContent = "New title for " + todo.title;
  const input = document.createElement("input");
  input.className = "edit";
  input.id = "edit-" + todo.id;
  input.value = todo.title;
  input.maxLength = 200;
  const save = document.createElement("button");
  save.type = "submit";
  save.textContent = "Save";
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.className = "secondary";
  cancel.textContent = "Cancel";
  const restore = (t) => {
    const fresh = todoItem(t);
    li.replaceWith(fresh);
    fresh.querySelector("button").focus();
  };
  cancel.addEventListener("click", () => restore(todo));
  input.addEventListener("keydown", (ev) => { if (ev.key === "Escape") restore(todo); });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    save.disabled = true;
    try {
      const updated = await api("PATCH", "/api/todos/" + encodeURIComponent(todo.id), { title: input.value });
      showStatus("");
      restore(updated);
    } catch (e) { save.disabled = false; handleError(e); input.focus(); }
  });
  form.append(label, input, save, cancel);
  li.replaceChildren(form);
  input.focus();
  input.select();
}

async function refreshCount() {
  const items = [...$("todos").children].map((li) => ({ done: li.classList.contains("done") }));
  renderCount(items);
}

async function loadTodos() {
  try {
    const items = await api("GET", "/api/todos");
    $("todos").replaceChildren(...items.map(todoItem));
    renderCount(items);
    showStatus("");
  } catch (e) { handleError(e); }
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const username = $("username").value.trim();
    const password = $("password").value;
    if (!username || !password) { showStatus("Enter your username and password."); return; }
    $("login-button").disabled = true;
    try {
      const data = await api("POST", "/api/login", { username, password });
      sessionStorage.setItem(TOKEN_KEY, data.access_token);
      sessionStorage.setItem(USER_KEY, username);
      $("password").value = "";
      showStatus("");
      setView(true);
      await loadTodos();
      $("new-title").focus();
    } catch (e) {
      showStatus(e.message);
      $("password").select();
    } finally {
      $("login-button").disabled = false;
    }
  });

  $("add-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const input = $("new-title");
    if (!input.value.trim()) { showStatus("Enter a title for the new todo."); input.focus(); return; }
    $("add-button").disabled = true;
    try {
      const todo = await api("POST", "/api/todos", { title: input.value });
      $("todos").append(todoItem(todo));
      input.value = "";
      showStatus("");
      await refreshCount();
    } catch (e) { handleError(e); }
    finally { $("add-button").disabled = false; input.focus(); }
  });

  $("logout").addEventListener("click", logout);

  if (token()) { setView(true); loadTodos(); } else { setView(false); $("username").focus(); }
});
