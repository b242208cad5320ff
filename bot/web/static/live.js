// The live page: polls the feed and renders every field with textContent (never innerHTML).
(function () {
  "use strict";
  var POLL_MS = 2500;
  var sessionId = document.body.dataset.session;
  var key = new URLSearchParams(window.location.search).get("key") || "";
  var base = "/live/" + encodeURIComponent(sessionId);
  var feedUrl = base + "/feed?key=" + encodeURIComponent(key);
  var list = document.getElementById("items");
  var template = document.getElementById("card");
  var cards = new Map();
  var loaded = false;
  var timer = null;

  function $(id) { return document.getElementById(id); }

  function setText(node, text) { node.textContent = text == null ? "" : String(text); }

  var statusIsError = false;

  function setStatus(text, isError) {
    setText($("status"), text);
    statusIsError = Boolean(isError);
  }

  function makeCard(item) {
    var card = template.content.firstElementChild.cloneNode(true);
    card.dataset.id = String(item.id);
    setText(card.querySelector(".time"), item.time);
    setText(card.querySelector(".who"), item.who);
    setText(card.querySelector(".receipt"), item.receipt);
    setText(card.querySelector(".text"), item.text);
    var form = card.querySelector(".answer-form");
    var button = card.querySelector(".answer-btn");
    button.addEventListener("click", function () {
      button.hidden = true;
      form.hidden = false;
      form.querySelector("input").focus();
    });
    card.querySelector(".cancel-btn").addEventListener("click", function () {
      form.hidden = true;
      button.hidden = false;
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      sendAnswer(item.id, form.querySelector("input").value, card);
    });
    if (loaded) {
      card.classList.add("fresh");
    }
    return card;
  }

  function updateCard(card, item) {
    setText(card.querySelector(".who"), item.who);
    card.classList.toggle("done", Boolean(item.answered));
    setText(card.querySelector(".answer"), item.answered && item.answer ? "回应：" + item.answer : "");
    if (item.answered) {
      card.querySelector(".actions").hidden = true;
    }
  }

  function opinionRows(listId, rows) {
    var list = $(listId);
    list.replaceChildren();
    if (!rows.length) {
      var none = document.createElement("li");
      none.className = "opinion-none";
      setText(none, "（还没有）");
      list.appendChild(none);
      return;
    }
    rows.forEach(function (row) {
      var item = document.createElement("li");
      var text = document.createElement("span");
      text.className = "opinion-text";
      setText(text, row.text);
      var counts = document.createElement("span");
      counts.className = "opinion-counts";
      var groups = row.groups.length > 1
        ? "（" + row.groups.map(function (g, n) { return "第" + (n + 1) + "组 " + g.agree + "/" + g.seen; }).join("，") + "）"
        : "";
      setText(counts, "同意 " + row.agree + " · 不同意 " + row.disagree + " · 跳过 " + row.passed + groups);
      item.appendChild(text);
      item.appendChild(counts);
      list.appendChild(item);
    });
  }

  function renderOpinions(opinions) {
    $("opinions").hidden = !opinions;
    if (!opinions) {
      return;
    }
    var groups = opinions.groups.length > 1 ? "，分成 " + opinions.groups.length + " 组" : "";
    setText($("opinion-stats"), "问了 " + opinions.asked + " 人，" + opinions.voters + " 人表态" + groups);
    opinionRows("consensus", opinions.consensus);
    opinionRows("divisive", opinions.divisive);
  }

  function render(data) {
    renderOpinions(data.opinions);
    setText($("title"), data.title);
    setText($("when"), data.when);
    setText($("phase"), data.phase);
    $("phase").dataset.phase = data.phase;
    setText($("total"), data.total);
    setText($("answered"), data.answered);
    document.title = data.title + " · 协商现场";
    $("empty").hidden = data.items.length > 0;
    var wanted = [];
    data.items.forEach(function (item) {
      var card = cards.get(item.id);
      if (!card) {
        card = makeCard(item);
        cards.set(item.id, card);
      }
      updateCard(card, item);
      wanted.push(card);
    });
    // Insert new cards in place; existing ones stay put, so a half-typed answer keeps its focus.
    var ref = list.firstElementChild;
    wanted.forEach(function (card) {
      if (card === ref) {
        ref = ref.nextElementSibling;
      } else {
        list.insertBefore(card, ref);
      }
    });
    loaded = true;
  }

  function poll() {
    window.clearTimeout(timer);
    fetch(feedUrl, { cache: "no-store", credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 403) {
          setStatus("链接无效：请召集人在聊天中发送「现场」获取新的链接。", true);
          return null;
        }
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then(function (data) {
        if (data) {
          render(data);
          if (statusIsError) {
            setStatus("");
          }
        }
      })
      .catch(function () {
        setStatus("连接中断，正在重试…", true);
      })
      .then(function () {
        timer = window.setTimeout(poll, POLL_MS);
      });
  }

  function sendAnswer(id, text, card) {
    var confirm = card.querySelector(".confirm-btn");
    confirm.disabled = true;
    fetch(base + "/suggestions/" + encodeURIComponent(id) + "/answer?key=" + encodeURIComponent(key), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ answer: text }),
      credentials: "same-origin",
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then(function () {
        setStatus("已回应，已通知提建言的居民。");
        window.setTimeout(function () {
          if (!statusIsError) {
            setStatus("");
          }
        }, 6000);
        poll();
      })
      .catch(function () {
        confirm.disabled = false;
        setStatus("回应没有成功，请再试一次。", true);
      });
  }

  poll();
})();
