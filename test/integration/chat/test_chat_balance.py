# The token balance under chat: a chat sets aside the most it can cost before it answers, so a balance never goes
# below zero however many chats run at once (streamed or not); every answer is debited exactly its
# tokens_used.total, and a chat the balance cannot cover is a 402 before any answer (and before a stream opens).
import re
import threading

from harness import check, eq, expect_error
from kb import CHAT_QUESTIONS, RETURNS_TXT, SHIPPING_MD, upload_ready
from chatting import CHAT, CONVERSATIONS, SEED_CHAT, answered, chat, check_chat



def small_balance_account(s, prefix, balance):
    """An account with the returns and shipping documents (indexed on a large balance), then `balance` tokens."""
    account, key = s.docs_key(prefix, balance=10 ** 7)
    upload_ready(s, key, [("returns-policy.txt", RETURNS_TXT), ("shipping-faq.md", SHIPPING_MD)])
    s.set_balance(account, balance)
    return account, key


def streamed_chat(s, key, body):
    """A chat with "stream": true: (status, the done event's answer or the error body)."""
    with s.sse(CHAT, body=dict(body, stream=True), key=key, timeout=60) as st:
        if st.status != 200:
            return st.status, st.json()
        done = [ev.data for ev in st if ev.name == "done"]
        eq(len(done), 1, f"done events of a streamed chat that opened ({body})")
        return 200, check_chat(done[0], "streamed chat")


def test_parallel_chats_never_take_the_balance_below_zero(s):
    """16 clients chat at once, half of them streamed, on a balance of a few answers: the balance ends at zero or
    above, drops by exactly the sum of the answers' tokens_used.total, and every other chat is a 402."""
    start = 1500
    account, key = small_balance_account(s, "chat-bal-16", start)
    answers, refused, other = [], [], []
    lock = threading.Lock()

    def client(i):
        for n in range(6):
            body = {"message": CHAT_QUESTIONS[(i + n) % len(CHAT_QUESTIONS)]}
            if i % 2:
                status, out = streamed_chat(s, key, body)
            else:
                r = s.post(CHAT, body, key=key, timeout=60)
                status, out = r.status, r.json
            with lock:
                if status == 200:
                    answers.append(out if i % 2 else check_chat(out, "chat"))
                elif status == 402 and out.get("error") == "insufficient_balance":
                    refused.append(out)
                else:
                    other.append((status, out))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    eq(other, [], "answers other than 200 and 402 insufficient_balance")
    check(answers and refused, f"{len(answers)} answers and {len(refused)} refusals: the balance should allow some")
    left = s.balance(account)
    spent = sum(a["tokens_used"]["total"] for a in answers)
    check(left >= 0, f"balance after 16 parallel clients: {left}")
    eq(left, start - spent, f"balance after {len(answers)} answers (each debited its tokens_used.total)")
    stored = s.count_rows("messages", f"account_id = {s.account_id(account)} AND role = 'assistant'")
    eq(stored, len(answers), "answers stored: a refused chat stores nothing")
    for body in refused:
        check(re.search(r"up to \d+ tokens", body["message"]), f"the 402 says what the chat needs: {body}")


def test_a_chat_needs_the_balance_to_cover_its_most(s):
    """A balance above zero but below what a chat may cost is a 402 that names both figures; with the figure it
    names, the chat is answered and debited exactly its tokens_used.total."""
    account, key = small_balance_account(s, "chat-bal-most", 5)
    before = s.pages(CONVERSATIONS, key, "conversations", limit=100)[0]
    r = s.post(CHAT, SEED_CHAT, key=key)
    body = expect_error(r, 402, "insufficient_balance")
    m = re.search(r"up to (\d+) tokens and (\d+) are available", body["message"])
    check(m, f"the 402 names the most the chat may cost and what is available: {body['message']!r}")
    eq(int(m.group(2)), 5, "available tokens named")
    eq(s.balance(account), 5, "a refused chat costs nothing")
    eq(s.pages(CONVERSATIONS, key, "conversations", limit=100)[0], before, "a refused chat stores nothing")
    # streamed: the same 402 as JSON, before the stream opens
    with s.sse(CHAT, body=dict(SEED_CHAT, stream=True), key=key) as st:
        eq(st.status, 402, "a streamed chat the balance cannot cover")
        eq(st.json().get("error"), "insufficient_balance", "its error")
    most = int(m.group(1))
    s.set_balance(account, most)
    answer = answered(chat(s, key, **SEED_CHAT), "a chat on exactly the balance it may cost")
    check(answer["tokens_used"]["total"] <= most, f"tokens_used {answer['tokens_used']} within the hold {most}")
    eq(s.balance(account), most - answer["tokens_used"]["total"], "the balance drops by tokens_used.total")
    eq(s.count_rows("balance_holds", f"account_id = {s.account_id(account)}"), 0, "holds left after the chat")
