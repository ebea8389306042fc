// The sandbox page: a small Telegram-like client over the sandbox's JSON API (bot/sandbox/server.py).
// Plain JS, no build step, no dependencies. Every message's HTML comes from the server, drawn from
// Telegram's entities with every character escaped; everything else is escaped here (esc()).
"use strict";

const TEXTS = {
  ru: {
    chats: "Чаты", topics_of: "Темы", general: "Общий", members: "участников", bot: "бот",
    you: "Вы", reply: "↩ Ответить", edit: "✏️ Изменить", editing: "✏️ Изменение сообщения",
    reply_to: "↩ Ответ", photo: "🖼 Фото", album: "🖼 Альбом (2 фото)", forward: "↪ Переслать пост гражданина…",
    no_commands: "Бот не задал команд для этого чата.", forwarded: "Переслано от", next: "Ближайший срок",
    no_next: "Впереди сроков нет", reset_sure: "Точно? Всё начнётся заново", starting: "Запускаю бота…",
    failed: "Песочница не запустилась", message: "Сообщение", caption: "Подпись к фото", link_button: "Ссылка",
    empty_chat: "Сообщений пока нет.", edited: "изменено", overdue: "просрочено сроков",
    bot_admin: "администратор бота", topic: "тема", bot_short: "Бот",
    media_photo: "🖼 Фото", media_video: "🎬 Видео", media_document: "📎 Файл", media_other: "📎 Вложение",
    svc_forum_topic_created: "Тема «{name}» создана", svc_forum_topic_edited: "Тема изменена: «{name}»",
    svc_forum_topic_closed: "🔒 Тема закрыта", svc_forum_topic_reopened: "Тема открыта снова",
    svc_pinned_message: "📌 Сообщение закреплено", svc_new_chat_members: "В группе: {name}",
    svc_left_chat_member: "{name} покинул группу",
  },
  en: {
    chats: "Chats", topics_of: "Topics", general: "General", members: "members", bot: "bot",
    you: "You", reply: "↩ Reply", edit: "✏️ Edit", editing: "✏️ Editing the message",
    reply_to: "↩ Reply to", photo: "🖼 Photo", album: "🖼 Album (2 photos)", forward: "↪ Forward a citizen's post…",
    no_commands: "The bot set no commands for this chat.", forwarded: "Forwarded from", next: "Next deadline",
    no_next: "No deadline ahead", reset_sure: "Sure? Everything starts afresh", starting: "Starting the bot…",
    failed: "The sandbox did not start", message: "Message", caption: "Photo caption", link_button: "Link",
    empty_chat: "No messages yet.", edited: "edited", overdue: "deadlines passed",
    bot_admin: "the bot's administrator", topic: "topic", bot_short: "Bot",
    media_photo: "🖼 Photo", media_video: "🎬 Video", media_document: "📎 File", media_other: "📎 Attachment",
    svc_forum_topic_created: "Topic «{name}» created", svc_forum_topic_edited: "Topic changed: «{name}»",
    svc_forum_topic_closed: "🔒 Topic closed", svc_forum_topic_reopened: "Topic reopened",
    svc_pinned_message: "📌 Message pinned", svc_new_chat_members: "Joined: {name}",
    svc_left_chat_member: "{name} left the group",
  },
};
const PAGE_EN = {
  sandbox: "🧪 Sandbox", reset: "↺ Start afresh", act_as: "I am", to_deadline: "To the next deadline",
  to_morning: "Tomorrow 09:00", chats: "Chats", pick_chat: "Pick a chat on the left.",
  topic_closed: "🔒 The topic is closed: nobody can write in it.", forward_title: "Forward a citizen's post to the bot",
  no_telegram: "No Telegram involved: the bot talks to a Bot API server inside this program; everything stays on this computer.",
  forward_hint: "This is how the coordinator forwards a post he found into his private chat with the bot.",
  own_post: "Or your own text…", from_citizen: "forwarded from a citizen", from_channel: "from a channel",
  as_text: "copied as text", forward_btn: "Forward", close: "Close", starting: "Starting the bot…",
};

const $ = (sel) => document.querySelector(sel);
const S = {
  me: Number(localStorage.getItem("sandbox.as")) || null,
  state: null, revision: -1, ready: false, language: "ru",
  side: null,            // the forum whose topics the side pane lists, or null: the chat list
  view: null,            // {chat, thread} open in the chat pane
  data: null,            // the open conversation as last loaded
  reply: null, edit: null,
  seen: JSON.parse(localStorage.getItem("sandbox.seen") || "{}"),
  busy: false,
  answers: [],
  errors: [],
};

function t(key) { return (TEXTS[S.language] || TEXTS.ru)[key] || TEXTS.ru[key] || key; }
function serviceText(svc) { return svc.kind ? t(`svc_${svc.kind}`).replace("{name}", svc.name).replace(/^svc_/, "") : ""; }
function mediaText(kind) { return kind ? t(`media_${kind}`).replace(/^media_.*/, t("media_other")) : ""; }
function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
const COLORS = ["#e17076", "#7bc862", "#e5ca77", "#65aadd", "#a695e7", "#ee7aae", "#6ec9cb", "#faa774"];
function color(n) { return COLORS[Math.abs(Number(n) || 0) % COLORS.length]; }
function initials(name) { return String(name || "?").split(/\s+/).slice(0, 2).map((w) => w[0] || "").join("").toUpperCase(); }
function isPhone() { return window.matchMedia("(max-width: 760px)").matches; }

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json", "X-Sandbox": "1" }, body: JSON.stringify(body),
  };
  const response = await fetch(path, init);
  let data = {};
  try { data = await response.json(); } catch (e) { /* an empty or non-JSON answer */ }
  if (!response.ok) {
    const error = new Error(data.error || (data.starting ? t("starting") : response.statusText));
    error.starting = Boolean(data.starting);
    throw error;
  }
  return data;
}

function toast(text) {
  const el = $("#toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 2600);
}
function alertBox(text) { $("#alert-text").textContent = text; $("#alert").hidden = false; }

// --- polling: the page follows the sandbox's revision counter -------------------------------------
async function poll() {
  try {
    const status = await api("/api/status");
    const overlay = $("#starting");
    if (!status.ready) {
      S.ready = false;
      overlay.hidden = false;
      $("#starting-text").textContent = status.error ? `${t("failed")}: ${status.error}` : t("starting");
    } else {
      overlay.hidden = true;
      if (!S.ready || status.revision !== S.revision) {
        S.ready = true;
        S.revision = status.revision;
        await refresh();
      }
    }
  } catch (e) {
    $("#starting").hidden = false;
    $("#starting-text").textContent = String(e.message || e);
  }
  setTimeout(poll, 600);
}

async function refresh() {
  const state = await api(`/api/state?as=${S.me || ""}`);
  S.state = state;
  S.me = state.me;
  if (state.language !== S.language) setLanguage(state.language);
  renderToolbar();
  if (!S.view) {
    const own = state.chats.find((c) => c.kind === "private");
    if (own && !isPhone()) S.view = { chat: own.id, thread: null };
  }
  if (S.view && !state.chats.some((c) => c.id === S.view.chat)) S.view = null;
  if (S.side && !state.chats.some((c) => c.id === S.side)) S.side = null;
  if (S.view) await loadMessages(); else renderChat();
  renderSide();
}

function setLanguage(language) {
  S.language = language;
  document.documentElement.lang = language;
  if (language === "en") {
    document.querySelectorAll("[data-t]").forEach((el) => { if (PAGE_EN[el.dataset.t]) el.textContent = PAGE_EN[el.dataset.t]; });
  }
  $("#input").placeholder = t("message");
}

// --- toolbar: who I am, the clock ------------------------------------------------------------------
function renderToolbar() {
  const st = S.state;
  const select = $("#as");
  const options = st.people.map((p) => {
    const what = [...p.titles, p.admin ? t("bot_admin") : "", p.department].filter(Boolean).join(", ");
    return `<option value="${p.id}"${p.id === st.me ? " selected" : ""}>${esc(p.short)} — ${esc(what)}</option>`;
  }).join("");
  if (select.dataset.options !== options) { select.innerHTML = options; select.dataset.options = options; }
  select.value = String(st.me);
  const clock = $("#clock");
  const text = `🕒 ${st.clock.local} (${st.clock.timezone})`;
  if (clock.textContent !== text) {
    if (clock.textContent !== "🕒 …") { clock.classList.remove("jumped"); void clock.offsetWidth; clock.classList.add("jumped"); }
    clock.textContent = text;
  }
  const next = st.clock.next_deadline;
  const late = st.clock.overdue ? ` · ⚠️ ${t("overdue")}: ${st.clock.overdue}` : "";
  $("#next").textContent = (next ? `${t("next")}: ${next.what} — ${next.local}` : t("no_next")) + late;
  $("#db").textContent = `· ${st.profile.name} · ${st.database}`;
}

// --- the side pane: chats, or a forum's topics -----------------------------------------------------
function seenKey(chat, thread) { return `${S.me}:${chat}:${thread ?? "-"}`; }
function unread(chat, thread, lastId) { return lastId > (S.seen[seenKey(chat, thread)] || 0); }
function markSeen(chat, thread, lastId) {
  const key = seenKey(chat, thread);
  if ((S.seen[key] || 0) < lastId) { S.seen[key] = lastId; localStorage.setItem("sandbox.seen", JSON.stringify(S.seen)); }
}

function preview(last) {
  if (!last) return "";
  if (last.service) return esc(serviceText(last.service));
  const who = last.bot ? t("bot_short") : last.who;
  const text = [mediaText(last.media), last.text].filter(Boolean).join(" ");
  return `${who ? `<b>${esc(who)}:</b> ` : ""}${esc(text)}`;
}

function renderSide() {
  const st = S.state;
  const list = $("#list");
  const forum = S.side && st.chats.find((c) => c.id === S.side);
  $("#side-back").hidden = !forum;
  if (forum) {
    $("#side-title").textContent = forum.title;
    $("#side-sub").textContent = t("topics_of");
    setHtml(list, forum.topics.map((tp) => {
      const active = S.view && S.view.chat === forum.id && S.view.thread === tp.thread;
      const fresh = !active && unread(forum.id, tp.thread, tp.last_id);
      const name = tp.thread === null ? t("general") : tp.name;
      return `<li data-chat="${forum.id}" data-thread="${tp.thread ?? ""}" class="${active ? "active" : ""}">
        <div class="avatar" style="background:${tp.thread === null ? "#8a98a8" : color(tp.color)}">${tp.closed ? "🔒" : "#"}</div>
        <div class="item"><div class="top"><span class="name">${esc(name)}</span><span class="muted">${esc(tp.last ? tp.last.time : "")}</span></div>
        <div class="top"><span class="preview muted">${preview(tp.last)}</span>${fresh ? '<span class="badge">•</span>' : ""}</div></div></li>`;
    }).join(""));
    return;
  }
  $("#side-title").textContent = t("chats");
  const me = st.people.find((p) => p.id === st.me);
  $("#side-sub").textContent = me ? `${t("you")}: ${me.name}` : "";
  setHtml(list, st.chats.map((c) => {
    const active = S.view && S.view.chat === c.id && !c.forum;
    const fresh = c.forum ? c.topics.some((tp) => unread(c.id, tp.thread, tp.last_id)) : !active && unread(c.id, null, c.last_id);
    const avatar = c.kind === "private" ? "🤖" : initials(c.title);
    return `<li data-chat="${c.id}" class="${active ? "active" : ""}">
      <div class="avatar" style="background:${c.kind === "private" ? "#65aadd" : color(c.id)}">${esc(avatar)}</div>
      <div class="item"><div class="top"><span class="name">${esc(c.title)}${c.forum ? " ›" : ""}</span><span class="muted">${esc(c.last ? c.last.time : "")}</span></div>
      <div class="top"><span class="preview muted">${preview(c.last)}</span>${fresh ? '<span class="badge">•</span>' : ""}</div></div></li>`;
  }).join(""));
}
function setHtml(el, html) { if (el._drawn !== html) { el.innerHTML = html; el._drawn = html; } }

$("#list").addEventListener("click", (event) => {
  const li = event.target.closest("li");
  if (!li) return;
  const chat = Number(li.dataset.chat);
  const info = S.state.chats.find((c) => c.id === chat);
  if (li.dataset.thread !== undefined) {
    openConversation(chat, li.dataset.thread === "" ? null : Number(li.dataset.thread));
  } else if (info && info.forum) {
    S.side = chat;
    renderSide();
  } else {
    openConversation(chat, null);
  }
});
$("#side-back").addEventListener("click", () => { S.side = null; renderSide(); });
$("#back").addEventListener("click", () => { $("#app").classList.remove("show-chat"); S.view = null; renderChat(); renderSide(); });

async function openConversation(chat, thread) {
  const changed = !S.view || S.view.chat !== chat || S.view.thread !== thread;
  S.view = { chat, thread };
  if (changed) { S.reply = null; S.edit = null; S.data = null; closePopup(); }
  $("#app").classList.add("show-chat");
  await loadMessages(true);
  renderSide();
  if (!isPhone()) $("#input").focus();
}

// --- the chat pane ---------------------------------------------------------------------------------
async function loadMessages(scrollDown) {
  const v = S.view;
  if (!v) return;
  try {
    S.data = await api(`/api/messages?as=${S.me}&chat=${v.chat}&thread=${v.thread ?? ""}`);
  } catch (e) {
    S.view = null; S.data = null; renderChat(); return;
  }
  renderChat(scrollDown);
}

function renderChat(scrollDown) {
  const pane = $("#chat");
  const d = S.data;
  pane.classList.toggle("has-chat", Boolean(d));
  const box = $("#messages");
  if (!d) { box.innerHTML = ""; box._drawn = ""; return; }
  const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  $("#chat-title").textContent = d.thread === null && S.state.chats.find((c) => c.id === d.chat)?.forum ? `${d.title} · ${t("general")}` : d.title;
  $("#chat-sub").textContent = d.kind === "private" ? t("bot") : d.kind === "topic" ? `${d.group} · ${t("topic")}` : `${d.members} ${t("members")}`;
  $("#closed-bar").hidden = !d.closed;
  $("#composer").hidden = d.closed;
  const html = [];
  let day = null;
  const msgs = d.messages;
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i];
    if (m.day !== day) { day = m.day; html.push(`<div class="day">${esc(day)}</div>`); }
    if (m.service) { html.push(`<div class="service" data-id="${m.id}">${esc(serviceText(m.service))}</div>`); continue; }
    const album = [m];
    while (m.album && i + 1 < msgs.length && msgs[i + 1].album === m.album) album.push(msgs[++i]);
    html.push(messageHtml(m, album, d));
  }
  if (!msgs.length) html.push(`<div class="service">${esc(t("empty_chat"))}</div>`);
  const drawn = html.join("");
  if (box._drawn !== drawn) {  // redraw only what changed: a button under the finger stays where it is
    box.innerHTML = drawn;
    box._drawn = drawn;
  }
  if (scrollDown || nearBottom) box.scrollTop = box.scrollHeight;
  const last = msgs.length ? msgs[msgs.length - 1].id : 0;
  markSeen(d.chat, d.thread, last);
  renderReplyBar();
}

function mediaHtml(album) {
  const items = album.filter((m) => m.media).map((m) => {
    const md = m.media;
    if (md.kind === "photo") {
      return `<img src="/api/file/${encodeURIComponent(md.file)}" alt="${esc(t("photo"))}" loading="lazy" onerror="this.outerHTML='<div class=&quot;placeholder&quot;>🖼</div>'">`;
    }
    const label = { video: "🎬", document: "📎", audio: "🎵", voice: "🎤", animation: "🎞" }[md.kind] || "📎";
    return `<div class="placeholder">${label} ${esc(md.name || md.kind)}</div>`;
  });
  return items.length ? `<div class="media n${Math.min(items.length, 4)}">${items.join("")}</div>` : "";
}

function messageHtml(m, album, d) {
  const group = S.state.chats.find((c) => c.id === d.chat)?.kind === "group";
  const parts = [];
  if (group && !m.mine && m.from) parts.push(`<div class="sender" style="color:${color(m.from.id)}">${esc(m.from.name)}</div>`);
  if (m.forwarded) parts.push(`<div class="fwd">${esc(t("forwarded"))}: <b>${esc(m.forwarded)}</b></div>`);
  if (m.reply) parts.push(`<div class="reply" data-goto="${m.reply.id}"><b>${esc(m.reply.from)}</b> ${esc(m.reply.text || mediaText(m.reply.media))}</div>`);
  parts.push(mediaHtml(album));
  const caption = album.find((x) => x.html)?.html ?? m.html ?? "";
  const meta = `<span class="meta">${m.edited ? esc(t("edited")) + " " : ""}${esc(m.date)}</span>`;
  parts.push(`<span class="text">${caption}</span>${meta}`);
  const keyboard = (m.buttons || []).map((row, r) => `<div class="krow">${row.map((b, c) =>
    `<button type="button" class="${b.url ? "url" : ""}" data-row="${r}" data-col="${c}" ${b.url ? `data-url="${esc(b.url)}"` : ""} title="${esc(b.text)}">${esc(b.text)}</button>`).join("")}</div>`).join("");
  return `<div class="msg${m.mine ? " mine" : ""}" data-id="${m.id}" data-from-bot="${m.from && m.from.bot ? 1 : 0}">
    <div class="bubble">${parts.join("")}</div>${keyboard ? `<div class="keyboard">${keyboard}</div>` : ""}</div>`;
}

// --- acting: buttons, links, replies, edits --------------------------------------------------------
function botStartLink(href) {
  const username = S.state && S.state.bot.username;
  const match = /^https?:\/\/t\.me\/([A-Za-z0-9_]+)\?start=([A-Za-z0-9_-]+)/.exec(href || "");
  return match && username && match[1].toLowerCase() === username.toLowerCase() ? match[2] : null;
}

async function followLink(href) {
  const payload = botStartLink(href);
  if (payload === null) { window.open(href, "_blank", "noopener"); return; }
  // A link to the bot with a start parameter (an invite): in Telegram it opens the bot's chat and sends /start.
  await act("/api/send", { as: S.me, chat: S.me, thread: null, text: `/start ${payload}` });
  await openConversation(S.me, null);
}

async function act(path, body) {
  try {
    const answer = await api(path, body);
    await poll.now();
    return answer;
  } catch (e) {
    S.errors.push(`${path}: ${e.message}`);
    toast(e.message);
    return null;
  }
}
poll.now = async () => { try { const st = await api("/api/status"); if (st.ready) { S.revision = st.revision; await refresh(); } } catch (e) { /* next poll */ } };

$("#messages").addEventListener("click", async (event) => {
  const target = event.target;
  const button = target.closest(".keyboard button");
  if (button) {
    const msg = button.closest(".msg");
    if (button.dataset.url) { await followLink(button.dataset.url); return; }
    button.classList.add("busy");
    const answer = await act("/api/press", { as: S.me, chat: S.data.chat, message: Number(msg.dataset.id),
      row: Number(button.dataset.row), column: Number(button.dataset.col) });
    button.classList.remove("busy");
    S.answers.push({ button: button.textContent, answer });  // what the bot answered to each press (tests read it)
    if (answer && answer.url) await followLink(answer.url);
    else if (answer && answer.text) (answer.alert ? alertBox : toast)(answer.text);
    return;
  }
  const link = target.closest("a[href]");
  if (link) { event.preventDefault(); await followLink(link.getAttribute("href")); return; }
  if (target.closest(".spoiler")) { target.closest(".spoiler").classList.add("shown"); return; }
  if (target.closest("blockquote.expandable")) { target.closest("blockquote.expandable").classList.toggle("open"); return; }
  const goto = target.closest(".reply[data-goto]");
  if (goto) {
    const el = document.querySelector(`.msg[data-id="${goto.dataset.goto}"]`);
    if (el) { el.scrollIntoView({ block: "center", behavior: "smooth" }); el.classList.add("flash"); setTimeout(() => el.classList.remove("flash"), 1200); }
    return;
  }
  const bubble = target.closest(".bubble");
  if (bubble) contextMenu(event, Number(bubble.closest(".msg").dataset.id));
});

function contextMenu(event, id) {
  closeContext();
  const m = S.data.messages.find((x) => x.id === id);
  if (!m || S.data.closed) return;
  const menu = document.createElement("div");
  menu.className = "ctx";
  menu.innerHTML = `<button type="button" data-do="reply">${esc(t("reply"))}</button>${m.editable ? `<button type="button" data-do="edit">${esc(t("edit"))}</button>` : ""}`;
  document.body.appendChild(menu);
  const x = Math.min(event.clientX, window.innerWidth - menu.offsetWidth - 8);
  const y = Math.min(event.clientY, window.innerHeight - menu.offsetHeight - 8);
  menu.style.left = `${x}px`;
  menu.style.top = `${y}px`;
  menu.addEventListener("click", (e) => {
    const what = e.target.dataset.do;
    if (what === "reply") { S.reply = m; S.edit = null; }
    if (what === "edit") { S.edit = m; S.reply = null; $("#input").value = textOf(m); }
    closeContext();
    renderReplyBar();
    $("#input").focus();
  });
  setTimeout(() => document.addEventListener("click", closeContext, { once: true }), 0);
}
function closeContext() { document.querySelectorAll(".ctx").forEach((el) => el.remove()); }
function textOf(m) { const div = document.createElement("div"); div.innerHTML = m.html || ""; return div.textContent; }

function renderReplyBar() {
  const bar = $("#reply-bar");
  if (S.edit) { bar.hidden = false; $("#reply-text").textContent = t("editing"); return; }
  if (S.reply) {
    bar.hidden = false;
    $("#reply-text").textContent = `${t("reply_to")}: ${S.reply.from ? S.reply.from.name : ""} — ${textOf(S.reply).slice(0, 80)}`;
    return;
  }
  bar.hidden = true;
}
$("#reply-cancel").addEventListener("click", () => { if (S.edit) $("#input").value = ""; S.reply = null; S.edit = null; renderReplyBar(); });

// --- the composer ----------------------------------------------------------------------------------
$("#composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("#input");
  const text = input.value;
  if (!text.trim() || !S.data || S.busy) return;
  S.busy = true;
  const where = { as: S.me, chat: S.data.chat, thread: S.data.thread };
  const done = S.edit
    ? await act("/api/edit", { ...where, message: S.edit.id, text })
    : await act("/api/send", { ...where, text, reply_to: S.reply ? S.reply.id : null });
  S.busy = false;
  if (done) { input.value = ""; S.reply = null; S.edit = null; renderReplyBar(); autosize(); }
});
$("#input").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !isPhone()) { event.preventDefault(); $("#composer").requestSubmit(); }
});
function autosize() { const el = $("#input"); el.style.height = "auto"; el.style.height = `${Math.min(el.scrollHeight, 160)}px`; }
$("#input").addEventListener("input", autosize);

function closePopup() { $("#popup").hidden = true; }
function openPopup(html) { const p = $("#popup"); p.innerHTML = html; p.hidden = false; }
$("#menu-btn").addEventListener("click", () => {
  if (!$("#popup").hidden) { closePopup(); return; }
  const commands = (S.data && S.data.commands) || [];
  openPopup(commands.length
    ? commands.map((c) => `<button type="button" data-command="${esc(c.command)}"><span class="cmd">/${esc(c.command)}</span>${esc(c.description)}</button>`).join("")
    : `<button type="button" disabled>${esc(t("no_commands"))}</button>`);
});
$("#attach-btn").addEventListener("click", () => {
  if (!$("#popup").hidden) { closePopup(); return; }
  const privateChat = S.data && S.data.chat === S.me;
  openPopup(`<button type="button" data-photos="1">${esc(t("photo"))}</button><button type="button" data-photos="2">${esc(t("album"))}</button>`
    + (privateChat ? `<button type="button" data-forward="1">${esc(t("forward"))}</button>` : ""));
});
$("#popup").addEventListener("click", async (event) => {
  const b = event.target.closest("button");
  if (!b) return;
  closePopup();
  if (b.dataset.command) {
    await act("/api/send", { as: S.me, chat: S.data.chat, thread: S.data.thread, text: `/${b.dataset.command}` });
  } else if (b.dataset.photos) {
    const caption = $("#input").value.trim() || null;
    const done = await act("/api/photos", { as: S.me, chat: S.data.chat, thread: S.data.thread, count: Number(b.dataset.photos),
      caption, reply_to: S.reply ? S.reply.id : null });
    if (done) { $("#input").value = ""; S.reply = null; renderReplyBar(); }
  } else if (b.dataset.forward) {
    openForward();
  }
});

// --- forwarding a citizen's post -------------------------------------------------------------------
function openForward() {
  $("#samples").innerHTML = S.state.samples.map((s) => `<button type="button" data-sample="${esc(s.id)}">${esc(s.title)}</button>`).join("");
  $("#forward").hidden = false;
}
$("#samples").addEventListener("click", async (event) => {
  const b = event.target.closest("button[data-sample]");
  if (!b) return;
  $("#forward").hidden = true;
  await act("/api/forward", { as: S.me, sample: b.dataset.sample });
  await openConversation(S.me, null);
});
$("#own-send").addEventListener("click", async () => {
  const text = $("#own-text").value;
  const origin = document.querySelector('input[name="origin"]:checked').value;
  if (!text.trim()) return;
  $("#forward").hidden = true;
  if (await act("/api/forward", { as: S.me, text, origin })) $("#own-text").value = "";
  await openConversation(S.me, null);
});
document.querySelectorAll("[data-close]").forEach((b) => b.addEventListener("click", () => { b.closest(".modal").hidden = true; }));

// --- who I am, the clock, reset --------------------------------------------------------------------
$("#as").addEventListener("change", async (event) => {
  const before = S.me;
  S.me = Number(event.target.value);
  localStorage.setItem("sandbox.as", String(S.me));
  if (S.view && S.view.chat === before) S.view = { chat: S.me, thread: null };  // his own chat with the bot
  S.reply = null; S.edit = null;
  await refresh();
});
document.querySelectorAll("[data-move]").forEach((b) => b.addEventListener("click", async () => {
  b.disabled = true;
  await act("/api/clock", { move: b.dataset.move });
  b.disabled = false;
}));
$("#reset").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  if (!button.classList.contains("confirm")) {
    button.classList.add("confirm");
    button.dataset.label = button.textContent;
    button.textContent = t("reset_sure");
    setTimeout(() => { button.classList.remove("confirm"); button.textContent = button.dataset.label; }, 4000);
    return;
  }
  button.classList.remove("confirm");
  button.textContent = button.dataset.label;
  S.seen = {}; localStorage.removeItem("sandbox.seen");
  S.view = null; S.side = null; S.data = null; S.ready = false;
  try { await api("/api/reset", {}); } catch (e) { toast(e.message); }
  renderChat();
});

poll();
