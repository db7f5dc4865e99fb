"""Tests for tasks/attribution.py: quotes, their speakers, and what each quantity measures and who said it."""

from __future__ import annotations

import pytest

from tasks.attribution import attribute_quotes, find_quotes
from tasks import ner
from tasks.clean import clean_text
from tasks.ner import Mention, extract_entities, load_nlp
from tasks.numbers import quantity_spans

# (text, the quoted texts found)
QUOTE_CASES = [
    ('"We will fight," said Tim Osborne.', ["We will fight,"]),
    ("“Curly quotes,” she said.", ["Curly quotes,"]),
    # a quote left open before the next opens (wire copy): the open one ends there
    ('"Career sexism limits them. "It is simply wrong," she said.', ["Career sexism limits them.", "It is simply wrong,"]),
    # a quote that runs on to the paragraph's end, and opens again in the next paragraph
    ('He said: "First part.\n\n"Second part," he added.', ["First part.", "Second part,"]),
    ("No quotes at all.", []),
    ('A 5" screen and nothing else.', []),  # an inch mark closes nothing and opens nothing
]


@pytest.mark.parametrize("text, quoted", QUOTE_CASES)
def test_find_quotes(text: str, quoted: list[str]):
    assert [text[start:end] for start, end in find_quotes(text)] == quoted


def _mentions(text: str, names: list[tuple[str, str, str]]) -> list[Mention]:
    """Mentions of (text, label, canonical), at their first occurrence in `text`."""
    return sorted((Mention("d", name, label, text.find(name), text.find(name) + len(name), 0, canonical)
                   for name, label, canonical in names), key=lambda mention: mention.start_char)


# (text, mentions, [(quote, speaker, verb, partial)])
ATTRIBUTION_CASES = [
    ('"We will fight," said Tim Osborne of Menatep.',
     [("Tim Osborne", "PERSON", "Tim Osborne"), ("Menatep", "ORG", "Menatep")],
     [("We will fight,", "Tim Osborne", "said", False)]),
    ('Ms Hewitt told the seminar: "We need to act now."',
     [("Ms Hewitt", "PERSON", "Patricia Hewitt")],
     [("We need to act now.", "Patricia Hewitt", "told", False)]),
    # a pronoun: the last person named before
    ('Jose Lopez spoke. "We are hostages," he said.',
     [("Jose Lopez", "PERSON", "Jose Lopez")],
     [("We are hostages,", "Jose Lopez", "said", False)]),
    # the company speaks: the last organisation named before
    ('Vodafone replied. "The market is competitive," the company said.',
     [("Vodafone", "ORG", "Vodafone")],
     [("The market is competitive,", "Vodafone", "said", False)]),
    # a partial quote: the author's words run into it
    ('Anshuman Magazine said the move was "a big positive step".',
     [("Anshuman Magazine", "PERSON", "Anshuman Magazine")],
     [("a big positive step", "Anshuman Magazine", "said", True)]),
    # a quote that continues the previous one takes its speaker
    ('"Prices will rise," said Ann Lee.\n\n"And they will keep rising for a long time."',
     [("Ann Lee", "PERSON", "Ann Lee")],
     [("Prices will rise,", "Ann Lee", "said", False), ("And they will keep rising for a long time.", "Ann Lee", None, False)]),
    # the full name beats a one-word name that the model also called a person
    ('"It gives us a chance," said Yukos chief executive Steven Theede.',
     [("Yukos", "PERSON", "Yukos"), ("Steven Theede", "PERSON", "Steven Theede")],
     [("It gives us a chance,", "Steven Theede", "said", False)]),
    # scare quotes: a short term with no verb of attribution is no quotation
    ('The so-called "Blair Babes" entered Parliament in 1997.', [], []),
    # nobody named: a quote with no speaker
    ('"It looks grim," an analyst said.', [], [("It looks grim,", None, "said", False)]),
    # the subject before the verb, not a name in a phrase of it
    ('Prof Joni Lovenduski, who ran the study with Margaret Moran, said: "We were shocked."',
     [("Joni Lovenduski", "PERSON", "Joni Lovenduski"), ("Margaret Moran", "PERSON", "Margaret Moran")],
     [("We were shocked.", "Joni Lovenduski", "said", False)]),
    # a term in quotation marks does not cut the sentence that names the speaker
    ('Barbara Follet, one of the so-called "Blair Babes" elected in 1997, told researchers: "It was awful."',
     [("Barbara Follet", "PERSON", "Barbara Follet")],
     [("It was awful.", "Barbara Follet", "told", False)]),
    # "adding" has the main clause's speaker, not the name in what he said
    ('Gerry Conlon spoke first. He said Mr Blair had been "very sincere", adding: "He went beyond what we thought."',
     [("Gerry Conlon", "PERSON", "Gerry Conlon"), ("Mr Blair", "PERSON", "Tony Blair")],
     [("very sincere", "Gerry Conlon", "said", True), ("He went beyond what we thought.", "Gerry Conlon", "adding", False)]),
    # a quote with no verb: the speaker of the sentence before it, in its paragraph or the previous one
    ('Sarah Teather said it was a club. Prof Lovenduski said she was shocked. "We expected a bit of this but not that."',
     [("Sarah Teather", "PERSON", "Sarah Teather"), ("Prof Lovenduski", "PERSON", "Joni Lovenduski")],
     [("We expected a bit of this but not that.", "Joni Lovenduski", None, False)]),
    ('Gillian Shepherd remembered how a colleague behaved.\n\n"He called all women by one name, every one of them."',
     [("Gillian Shepherd", "PERSON", "Gillian Shepherd")],
     [("He called all women by one name, every one of them.", "Gillian Shepherd", None, False)]),
    # "he" is the last person who spoke, not the last one named in what he said
    ('Dr Greenspan said Adam Smith had been a force for good. "He saw far," he said.',
     [("Dr Greenspan", "PERSON", "Alan Greenspan"), ("Adam Smith", "PERSON", "Adam Smith")],
     [("He saw far,", "Alan Greenspan", "said", False)]),
    # else the last person who opens a sentence, not one named after "as"
    ('Mr Campbell messaged Newsnight. A poster showed Michael Howard as Fagin. In it, he said: "Just spoke to them."',
     [("Mr Campbell", "PERSON", "Alastair Campbell"), ("Michael Howard", "PERSON", "Michael Howard"),
      ("Fagin", "PERSON", "Fagin")],
     [("Just spoke to them.", "Alastair Campbell", "said", False)]),
    # a title gives a person's gender: "Ms Robinson" is no "he"
    ('Michael Howard spoke first. Ms Robinson told Cockerell of it. The impression, which he calls "very funny", aired.',
     [("Michael Howard", "PERSON", "Michael Howard"), ("Ms Robinson", "PERSON", "Anne Robinson")],
     [("very funny", "Michael Howard", "calls", True)]),
    # after a quote that ends its sentence, a verb reporting a clause starts the author's next sentence
    ('Mark Oaten said: "We will oppose it." A spokeswoman for Human Rights Watch said it was unfair. She added: "It is wrong."',
     [("Mark Oaten", "PERSON", "Mark Oaten"), ("Human Rights Watch", "ORG", "Human Rights Watch")],
     [("We will oppose it.", "Mark Oaten", "said", False), ("It is wrong.", "Human Rights Watch", "added", False)]),
    # the name in apposition after the verb; a participle whose main verb has its subject after it
    ('"It matters," said its chairman, Sir Anthony Greener.',
     [("Anthony Greener", "PERSON", "Anthony Greener")], [("It matters,", "Anthony Greener", "said", False)]),
    ('Schools must act, said Soeder, stressing that they should "stay open as long as possible."',
     [("Soeder", "PERSON", "Markus Soeder")], [("stay open as long as possible.", "Markus Soeder", "stressing", True)]),
    # a place that modifies a noun is no speaker: "the US company" is the company named before
    ('Boeing won. "We are pleased," the US company said.',
     [("Boeing", "ORG", "Boeing"), ("US", "GPE", "United States")], [("We are pleased,", "Boeing", "said", False)]),
    # nor a name in a clause of the subject
    ('"Growth was solid," Inbev, which makes Stella Artois, said.',
     [("Inbev", "NORP", "Inbev"), ("Stella Artois", "PERSON", "Stella Artois")], [("Growth was solid,", None, "said", False)]),
    # "the Tory leader" is the person the text gave that title, not the last person named
    ('Tory leader Michael Howard spoke. Anne Robinson met him. The Tory leader replies: "It is rubbish."',
     [("Michael Howard", "PERSON", "Michael Howard"), ("Anne Robinson", "PERSON", "Anne Robinson")],
     [("It is rubbish.", "Michael Howard", "replies", False)]),
    # a description after the sentence's opening; a whole word before the verb ("the", not "he")
    ('New York Governor Andrew Cuomo spoke. In his speech, the governor stressed the need to "reach every community."',
     [("Andrew Cuomo", "PERSON", "Andrew Cuomo")],
     [("reach every community.", "Andrew Cuomo", "stressed", True)]),
    # a description inside a phrase is not the subject
    ('Alex Ferguson spoke. A spokesman for the supporters club said: "We see no difference."',
     [("Alex Ferguson", "PERSON", "Alex Ferguson")], [("We see no difference.", None, "said", False)]),
    # "the" and a name the model missed is no person named before
    ('Mark Esper spoke. "Readiness is high," the USFK said.', [("Mark Esper", "PERSON", "Mark Esper")],
     [("Readiness is high,", None, "said", False)]),
    ('What matters is the content, said Mr Thomas.\n\n"If in doubt, retain. That is the principle we keep."',
     [("Mr Thomas", "PERSON", "Richard Thomas")],
     [("If in doubt, retain. That is the principle we keep.", "Richard Thomas", None, False)]),
    # a verb before its speaker before the quote; but the one told is no speaker
    ('Iraq votes. Observes Mr Hadi: "Life goes on."', [("Hadi", "PERSON", "Radwan Hadi")],
     [("Life goes on.", "Radwan Hadi", "Observes", False)]),
    ('The panel told Nicola Sturgeon: "It is wrong."',
     [("Nicola Sturgeon", "PERSON", "Nicola Sturgeon")], [("It is wrong.", None, "told", False)]),
    # "the committee": the organisation named before whose name holds the noun
    ('The Commons science committee met Lord Sainsbury. "It is hard to see progress," the committee said.',
     [("Commons science committee", "ORG", "Commons science committee"), ("Sainsbury", "PERSON", "Lord Sainsbury")],
     [("It is hard to see progress,", "Commons science committee", "said", False)]),
    # the person who opens a sentence after an opening phrase is its subject
    ('Mr Toshitsune is 101.\n\nOn the outskirts of Kyoto, 83-year-old Yuji Shimizu plays golf.\n\n'
     '"The food has improved," he remarks.',
     [("Toshitsune", "PERSON", "Torao Toshitsune"), ("Yuji Shimizu", "PERSON", "Yuji Shimizu")],
     [("The food has improved,", "Yuji Shimizu", "remarks", False)]),
    # "the Porsche executive" is a person, the one named before; "a Pentagon spokesman" speaks for the Pentagon
    ('"It will change," Zhao Jiawei explained. Firms must see that "customers want more," the Porsche '
     'executive said. A Pentagon spokesman said Esper "has no plans to resign."',
     [("Zhao Jiawei", "PERSON", "Zhao Jiawei"), ("Porsche", "ORG", "Porsche"), ("Pentagon", "ORG", "Pentagon")],
     [("It will change,", "Zhao Jiawei", "explained", False), ("customers want more,", "Zhao Jiawei", "said", True),
      ("has no plans to resign.", "Pentagon", "said", True)]),
    # "points out" and "responded" attribute
    ('Engineers work there, Mr Hadi points out. "These guys are trying to work."', [("Hadi", "PERSON", "Radwan Hadi")],
     [("These guys are trying to work.", "Radwan Hadi", None, False)]),
    ('Mr Fox responded by accusing the prime minister of "hiding away from scrutiny".', [("Fox", "PERSON", "Liam Fox")],
     [("hiding away from scrutiny", "Liam Fox", "responded", True)]),
    # a quote a colon introduces is its speaker's, not the next sentence's
    ('Kate Hoey told crowds: "We will prevail." Judith Moritz said activists were out.',
     [("Kate Hoey", "PERSON", "Kate Hoey"), ("Judith Moritz", "PERSON", "Judith Moritz")],
     [("We will prevail.", "Kate Hoey", "told", False)]),
    # after a quote that ends its sentence, a verb followed by a long clause reports other words
    ('"We have received reports," Mike Hobday said. "Most hunts kept within the law." Simon Hall at Postbridge '
     'said 2,000 people had turned out to welcome the hunt. "It was calm," Hall said in a statement.',
     [("Mike Hobday", "PERSON", "Mike Hobday"), ("Simon Hall", "PERSON", "Simon Hall")],
     [("We have received reports,", "Mike Hobday", "said", False),
      ("Most hunts kept within the law.", "Mike Hobday", None, False), ("It was calm,", "Simon Hall", "said", False)]),
    # a spokesperson named by the body's noun speaks for the body named before
    ('The UK Film Council said output fell.\n\n"The drop was expected," the council\'s spokesperson said. "It was '
     'a good year."', [("UK Film Council", "ORG", "UK Film Council")],
     [("The drop was expected,", "UK Film Council", "said", False),
      ("It was a good year.", "UK Film Council", None, False)]),
    # "He" opening sentences since the last person named continues the person of the first of them,
    # however far back
    ('Mr Balls, who left the Treasury, had suggested that Mr Brown would meet his rule. He said he hoped for more. '
     + 'Expectations of a rate rise have gathered pace after figures showed house prices are still rising. ' * 9
     + 'He also stressed that rates would not matter. "This is a big change," he told a lunch.',
     [("Balls", "PERSON", "Ed Balls"), ("Brown", "PERSON", "Gordon Brown")],
     [("This is a big change,", "Ed Balls", "told", False)]),
    # a sentence opened by a title since then: the person given that title, else the one named most
    ('Michael Cockerell made a film about Tory leader Michael Howard. Mr Cockerell said it was fair. The Tory '
     'leader was asked about immigration.\n\nHe replies: "What is the inference of that?"',
     [("Michael Cockerell", "PERSON", "Michael Cockerell"), ("Michael Howard", "PERSON", "Michael Howard"),
      ("Mr Cockerell", "PERSON", "Michael Cockerell")],
     [("What is the inference of that?", "Michael Howard", "replies", False)]),
    ('Jack McConnell visited a school. Mr McConnell spoke about drink. Nicola Sturgeon said it was a gaffe. Hamish '
     'MacDonell said it was a mistake. In a furious response, the first minister said his comments had been '
     'distorted. He told Ms Sturgeon: "That is completely untrue."',
     [("Jack McConnell", "PERSON", "Jack McConnell"), ("Mr McConnell", "PERSON", "Jack McConnell"),
      ("Nicola Sturgeon", "PERSON", "Nicola Sturgeon"), ("Hamish MacDonell", "PERSON", "Hamish MacDonell"),
      ("Ms Sturgeon", "PERSON", "Nicola Sturgeon")],
     [("That is completely untrue.", "Jack McConnell", "told", False)]),
    # a name at the end of the subject's relative clause is no speaker
    ('Cate Blanchett, who won a Bafta for her role in Elizabeth, said: "It means a lot." She thanked her family. '
     '"Thank you," she said.', [("Cate Blanchett", "PERSON", "Cate Blanchett"), ("Elizabeth", "PERSON", "Elizabeth")],
     [("It means a lot.", "Cate Blanchett", "said", False), ("Thank you,", "Cate Blanchett", "said", False)]),
    # "confirmed", "denied", "promised" and "pledged" attribute
    ('Scarlets chief executive Stuart Gallacher confirmed that 17 players would leave. Dave Hodges, a forward, is '
     'one of them. "It is a chance to invigorate the squad," he said.',
     [("Stuart Gallacher", "PERSON", "Stuart Gallacher"), ("Dave Hodges", "PERSON", "Dave Hodges")],
     [("It is a chance to invigorate the squad,", "Stuart Gallacher", "said", False)]),
    # a verb after "but" or "and" opens another clause: not the quote's attribution
    ('Mr Blair said he left "without a stain on his character" but Tory Dominic Grieve branded it a scandal.',
     [("Blair", "PERSON", "Tony Blair"), ("Dominic Grieve", "PERSON", "Dominic Grieve")],
     [("without a stain on his character", "Tony Blair", "said", True)]),
    # the person in apposition, not the organisation in the description before it
    ('"More young people are drawn in," said the head of Counter Terrorism Policing, Assistant Commissioner Neil '
     'Basu.', [("Counter Terrorism Policing", "ORG", "Counter Terrorism Policing"), ("Neil Basu", "PERSON", "Neil Basu")],
     [("More young people are drawn in,", "Neil Basu", "said", False)]),
    # a name right before a quote introduces it
    ('Dyer scored.\n- Bolton boss Sam Allardyce "I am bitterly disappointed with the result."',
     [("Dyer", "PERSON", "Kieron Dyer"), ("Sam Allardyce", "PERSON", "Sam Allardyce")],
     [("I am bitterly disappointed with the result.", "Sam Allardyce", None, False)]),
    # a word before a title makes it another office: "shadow chancellor" is no "the chancellor"
    ('Chancellor Gordon Brown spoke. The cuts proposed by shadow chancellor Oliver Letwin were wrong. "It is a clear '
     'choice," the chancellor said.',
     [("Gordon Brown", "PERSON", "Gordon Brown"), ("Oliver Letwin", "PERSON", "Oliver Letwin")],
     [("It is a clear choice,", "Gordon Brown", "said", False)]),
    # a name the model missed that ends a full name it took for an organisation's
    ('Former full-back Dusty Hare spoke. "It is the same with goal-kicking," Hare added.',
     [("Dusty Hare", "ORG", "Dusty Hare")], [("It is the same with goal-kicking,", "Dusty Hare", "added", False)]),
    # one word in quotation marks is a term, even after a verb of attribution
    ('Suga assured Bach that Japan is "determined" to host the Games.', [("Suga", "PERSON", "Yoshihide Suga")], []),
]


@pytest.mark.parametrize("text, names, expected", ATTRIBUTION_CASES)
def test_attribute_quotes(text: str, names: list[tuple[str, str, str]], expected: list[tuple]):
    quotes = attribute_quotes(text, find_quotes(text), _mentions(text, names))
    assert [(text[q.start:q.end], q.speaker, q.verb, q.partial) for q in quotes] == expected


def _document(text: str, doc_id: str = "d") -> dict:
    """A row as the entities task hands it to NER: with the numbers stage's quantities."""
    return {"doc_id": doc_id, "source": f"{doc_id}.txt", "text": text, "quantities": quantity_spans(text)}


def _contexts(text: str) -> dict[str, tuple[str | None, str | None]]:
    found = extract_entities(load_nlp(), [_document(text)])
    assert found.errors == []
    return {text[c.start_char:c.end_char]: (c.subject, c.speaker) for c in found.quantity_contexts}


# (text, quantity, subject, speaker): through the real model and parser.
QUANTITY_CASES = [
    ("The owners of Yukos want the buyer to pay back a $900m loan.", "$900m", "loan", None),
    ("The firm gained protection in 2003 after revealing debts of 14bn euros.", "14bn euros", "debts", None),
    ("Revenues at media group Reuters slipped 11% during 2004, the group said.", "11%",
     "Revenues at media group Reuters", "Reuters"),
    ("The IMF is to cut its growth forecast for Germany from 1.8% to 0.8%, the Financial Times reported.", "0.8%",
     "its growth forecast for Germany", "Financial Times"),
    ("Marsh posted a $676m loss for the last three months of 2004.", "$676m",
     "loss for the last three months of 2004", "Marsh"),
    ("Women in full-time work earn 19% less than men, according to the Equal Opportunities Commission.", "19%",
     "Women in full-time work", "Equal Opportunities Commission"),
    # no verb of attribution: nobody said it
    ("In the year to March 2004, the Indian economy grew by 8.5%.", "8.5%", "the Indian economy", None),
    # an aside about the amount is not what it measures
    ("London Brent crude closed at $40.15 on Thursday - a drop of 5.1% - in thin trading.", "$40.15",
     "London Brent crude", None),
    # what an amount is "in", on its verb
    ("Thailand may lose 30bn baht in earnings from tourism.", "30bn baht", "earnings from tourism", None),
    ("BP's share price rose 4p in morning trading.", "4p", "BP's share price", None),
    ("Air China plans to raise $1bn from the flotation.", "$1bn", "the flotation", None),
    # an item of a list of changes measures itself, not the sentence's subject
    ("Cases are up 41 percent, hospitalizations up 20 percent and deaths up 23 percent.", "20 percent",
     "hospitalizations", None),
    ("Nippon Steel lost 2.5%, with closest rival JFE Holdings down 3.4%.", "3.4%", "closest rival JFE Holdings", None),
    # another amount is no part of the phrase
    ("It reported a 6% rise in profits to £280.2m.", "6%", "rise in profits", None),
    # what is bid "for"; what is forecast, not who forecasts it
    ("Qwest has bid $6.3bn for MCI.", "$6.3bn", "MCI", None),
    ("UNECE is forecasting average economic growth of 2.2% in 2005.", "2.2%", "average economic growth", "UNECE"),
    # a passive verb of attribution with no "by": nobody named said it
    ("The EU's economic growth rate is projected to be 2% this year.", "2%", "The EU's economic growth rate", None),
    # a verb of attribution in a clause of the author's does not attribute the amount
    ("Shares in Cairn Energy have jumped 6% after the firm said an Indian oilfield was larger.", "6%",
     "Shares in Cairn Energy", None),
    ("Heineken saw its annual profits drop 33% and warned that earnings may also slide.", "33%",
     "its annual profits", None),
    # a rate or an average of the amount is the amount: what it measures is the verb's
    ("The economy expanded at an annual rate of 3.7% in the July to September period, the Commerce Department said.",
     "3.7%", "The economy", "Commerce Department"),
    ("According to the INSEE, car sales fell 2.8% in January, following a fall of 0.6% in December.", "0.6%",
     "car sales", "INSEE"),
    ("Prices are now well above 2004's average of $41.48.", "$41.48", "2004's average", None),
    # a day that owns the change says when, not what
    ("Reports of deadlocked talks sent Fiat shares down 1.2% on Tuesday, after Monday's 4% gain on hopes of a payoff.",
     "4%", "Fiat shares", None),
    # the subject of the verb that "likely" hangs from
    ("Growth is likely to peak this year at just under 2%.", "2%", "Growth", None),
    # the noun a relative clause or a participle is about; not the noun of an infinitive's purpose
    ("The rally reflects optimism about the Brazilian economy, which could grow by as much as 4.5% in 2004.", "4.5%",
     "the Brazilian economy", None),
    ("Atticus Capital, holding 2% of Deutsche Boerse, wants it to buy back its own shares.", "2%",
     "Atticus Capital", None),
    ("A shareholder has taken legal action to halt a $6.75bn buyout by Verizon.", "$6.75bn", "buyout by Verizon", None),
    # a forecast or an estimate is the amount: what it measures is what it is compared with
    ("According to INSEE, growth for the three months to December was 0.7%, ahead of the 0.6% forecast.", "0.6%",
     "growth for the three months to December", "INSEE"),
    # what a sum of money is "of" or "worth of", or the noun it stands beside; a share's "of" is its whole
    ("The deal will be financed with $15bn of shares as well as a special dividend.", "$15bn", "shares", None),
    ("The firm had been expected to offer 22.5bn yuan ($2.7bn) worth of shares to investors.", "$2.7bn", "shares",
     None),
    ("Sibneft started to pay dividends - $53m in 2000 - and closed its subsidiaries.", "$53m", "dividends", None),
    ("By 18 February, creditors holding $41bn - or 40% of the total debt - had accepted the offer.", "$41bn",
     "creditors", None),
    # a sum that is the subject of a passive verb of spending measures what it goes "for" or "on"
    ("A total of 24.2 trillion pesos ($10.2bn) is earmarked for subsidies for the poor, the department said.",
     "$10.2bn", "subsidies for the poor", None),
    ("About £5m was spent on new roads last year.", "£5m", "new roads", None),
    # participles of reporting verbs attribute too
    ("Bush will point to Commerce Department figures showing that consumer spending grew at 4.6% in the quarter.",
     "4.6%", "consumer spending", "Commerce Department"),
    ("Carlsberg is more optimistic than Heineken, projecting a 15% rise in net profits for the year.", "15%",
     "rise in net profits for the year", "Carlsberg"),
    # a share conjoined with a fraction measures what the fraction does; a holder in apposition is its noun
    ("Women now make up more than half of all graduates but only 5% of the workforce.", "5%", "Women", None),
    ("US-German carmaker DaimlerChrysler, a 30% shareholder in Mitsubishi Motors, decided not to pump in more money.",
     "30%", "US-German carmaker DaimlerChrysler", None),
    # the rest of a bracketed amount is no part of the phrase; "from" where the parser hangs it on the amount
    ("SBC said it expects to cut jobs following its $16bn (£8.5bn) takeover of former parent AT&T.", "£8.5bn",
     "takeover of former parent", "SBC"),
    ("Analysts expect Jet to raise at least 16.4bn rupees ($375m; £198m) from the offering.", "$375m", "the offering",
     None),
    # of two subjects the parser gives a verb, the one nearest it
    ("In contrast, Inbev's European business saw volume sales fall 2.5%, although other sales rose 12%.", "2.5%",
     "sales", None),
    # what a comparative stands for is no subject ("less than 5bn euros")
    ("Its contribution would rise from less than 5bn euros in 2014 to almost 9bn euros in 2025.", "5bn euros",
     "Its contribution", None),
    # a word the tagger took for an adjective that has a verb's subject ("double/JJ")
    ("The tourism industry is booming and revenues from visitors should more than double to $21bn (£10.8bn) in "
     "three years.", "$21bn", "revenues from visitors", None),
    # the object right before the verb, inside the subject the parser gives it
    ("Also on Tuesday, the central bank released growth figures showing Malaysia's economy expanded 7.1% in 2004.",
     "7.1%", "Malaysia's economy", None),
    # "it" of a second clause is the first clause's subject
    ("Sri Lanka's stock market has fallen about 5% since the weekend, but it is still 40% higher than at the start "
     "of 2004.", "40%", "Sri Lanka's stock market", None),
    # an amount "compared to" another measures what that one does
    ("Activision has a stock market capitalisation of about $2.95bn (£1.57bn), compared to EA's $17.8bn.", "$17.8bn",
     "a stock market capitalisation", None),
    # a share that something represents measures that thing, as one it holds
    ("The share offer, representing about 20% of Jet's equity, was oversubscribed, news agency Reuters reported.",
     "20%", "The share offer", "Reuters"),
]


@pytest.mark.parametrize("text, quantity, subject, speaker", QUANTITY_CASES)
def test_quantity_subject_and_speaker(text: str, quantity: str, subject: str | None, speaker: str | None):
    assert _contexts(text)[quantity] == (subject, speaker)


def test_every_quantity_gets_its_sentence():
    text = "Sales rose 5%. Profits fell 3% in 2004, the bank said."
    found = extract_entities(load_nlp(), [_document(text)])
    sentences = {text[c.start_char:c.end_char]: text[c.sentence_start:c.sentence_end] for c in found.quantity_contexts}
    assert sentences == {"5%": "Sales rose 5%.", "3%": "Profits fell 3% in 2004, the bank said."}


def test_seed_subjects_speakers_and_quotes(seed_text: str):
    text = clean_text(seed_text)
    found = extract_entities(load_nlp(), [_document(text, "seed")])
    contexts = {text[c.start_char:c.end_char]: c for c in found.quantity_contexts}
    assert "China's total R&D spending" in contexts["2.44 trillion yuan"].subject
    assert contexts["2.44 trillion yuan"].speaker == contexts["2.4%"].speaker == "Hu Zucai"
    speakers = {q.speaker for q in found.quotations}
    assert {"Liu Hua", "Zuo Xiaodong"} <= speakers
    liu = next(q for q in found.quotations if q.text.startswith("In terms of innovation"))
    assert liu.speaker == "Liu Hua" and not liu.partial


def test_a_failure_of_attribution_keeps_the_documents_mentions(monkeypatch: pytest.MonkeyPatch):
    def fail(self, doc_id, names):
        raise ValueError("boom")

    monkeypatch.setattr("tasks.attribution.TextReading.attribution", fail)
    found = extract_entities(load_nlp(), [_document("Tony Blair said sales rose 5%.", "s")])
    assert "Tony Blair" in [m.text for m in found.mentions]
    assert found.quantity_contexts == [] and found.quotations == []
    assert [(e.source, e.error_type, e.message) for e in found.errors] == [("s.txt", "attribution_error", "ValueError: boom")]


def test_only_the_sentences_with_money_or_a_percentage_are_parsed(monkeypatch: pytest.MonkeyPatch):
    parsed = []
    real = ner.parse_sentences
    monkeypatch.setattr(ner, "parse_sentences", lambda nlp, texts: parsed.extend(texts) or real(nlp, texts))
    text = "Tony Blair spoke on Monday. Sales rose 5% in March. Nobody was surprised. He met 20 investors."
    found = extract_entities(load_nlp(), [_document(text)])
    assert parsed == ["Sales rose 5% in March."]  # not the sentence with a count only
    contexts = {text[c.start_char:c.end_char]: c for c in found.quantity_contexts}
    assert text[contexts["20"].sentence_start:contexts["20"].sentence_end] == "He met 20 investors."
    assert contexts["20"].subject is None and contexts["5%"].subject == "Sales"
