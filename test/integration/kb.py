# The small knowledge base the search, chat and analytics tests share: four documents of a shop's help pages, the
# questions that paraphrase them, one that none answers, and uploading them until ready.

RETURNS_TXT = b"""Returns and refunds

You can return most items within 30 days of delivery for a full refund. Items must be unused and in their
original packaging, with the receipt or the order number.

To start a return, open your order history, choose the item and select "Return item". We email you a prepaid
shipping label; drop the parcel at any post office.

Refunds go back to the original payment method within 5 to 7 business days after our warehouse receives the
parcel. Sale items, opened software and gift cards cannot be returned.
"""

HELP_MD = b"""# Account Settings

## Resetting your password

To reset your password: 1. Click Forgot Password on the sign-in page. 2. Enter the email address you registered
with. 3. Open the link in the email we send you within one hour and choose a new password of at least 12
characters.

## Two-factor authentication

Turn on two-factor authentication under Account Settings, Security. Scan the QR code with an authenticator app
and enter the six-digit code it shows. Keep the backup codes somewhere safe.

## Changing your email address

Open Profile, choose Edit next to your email address and confirm the change from the message sent to the new
address. Your login name changes at the same time.

## Closing your account

Write to support from the address on the account. We delete your data within 30 days; orders already shipped
are not affected.
"""

SHIPPING_MD = b"""# Shipping FAQ

## Delivery times

Standard delivery takes 3 to 5 business days within the country. Express delivery arrives the next business day
when you order before 2 pm.

## Shipping costs

Standard shipping is free on orders over 50 dollars; below that it costs 4.95. Express shipping costs 12 dollars.

## International shipping

We ship to more than 40 countries. Customs duties and import taxes are charged to the recipient on arrival.
International parcels take 7 to 14 business days.

## Tracking a parcel

Each order confirmation email has a tracking number. Enter it on the carrier's website to see where your parcel
is.
"""

FAQ_CSV = (b"Question,Answer\r\n"
           b"What are your store opening hours?,Our shops are open Monday to Saturday from 9 am to 8 pm and Sunday "
           b"from 10 am to 5 pm.\r\n"
           b"Do you offer gift wrapping?,\"Yes, gift wrapping costs 3 dollars per item and you can add a "
           b"handwritten card at checkout.\"\r\n"
           b"How do loyalty points work?,You earn one point for every dollar spent; 100 points give a 5 dollar "
           b"voucher.\r\n"
           b"Do you match prices from other shops?,We match the price of an identical item sold by a national "
           b"retailer within 14 days of purchase.\r\n"
           b"Can I pay in instalments?,Orders over 200 dollars can be paid in three monthly instalments with no "
           b"interest.\r\n"
           b"Which payment methods do you accept?,\"We accept Visa, Mastercard, PayPal and bank transfer.\"\r\n"
           b"Do you sell gift cards?,Gift cards from 10 to 500 dollars are available in shops and online and "
           b"never expire.\r\n"
           b"Can I collect my order in a shop?,Choose Click and Collect at checkout; your order is ready in the "
           b"shop within two hours.\r\n")

KB_FILES = [("returns-policy.txt", RETURNS_TXT), ("help.md", HELP_MD), ("shipping-faq.md", SHIPPING_MD),
            ("store-faq.csv", FAQ_CSV)]


# Questions a customer might ask, not in the documents' words: (question, file, a phrase of the right passage).

PARAPHRASES = [
    ("I forgot my login password, how can I pick a new one?", "help.md", "Forgot Password"),
    ("When will my refund arrive once I send the parcel back?", "returns-policy.txt", "Refunds go back"),
    ("Do you deliver abroad to other countries, and who pays customs fees?", "shipping-faq.md", "40 countries"),
    ("Is there a charge to have a present wrapped?", "store-faq.csv", "gift wrapping costs"),
    ("How do I set up an authenticator for signing in?", "help.md", "authenticator app"),
]

# Short questions the KB_FILES answer, for tests that chat many times.
CHAT_QUESTIONS = ["What is your return policy?", "How much does express shipping cost?", "Can I return gift cards?",
                  "Do you deliver abroad?"]
OFF_TOPIC = "What makes volcanoes erupt, and how does magma form beneath the crust?"


def upload_ready(s, key, files):
    """Uploads (filename, bytes) pairs and waits until every one is ready; returns {filename: id}."""
    ids = {name: s.upload_ok(key, data, name) for name, data in files}
    for name, doc_id in ids.items():
        s.wait_document(key, doc_id, "ready")
    return ids
