#include "pdf_table.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "hpdf.h"

namespace hookd::hookctl {
namespace {

// Landscape A4 in points; a monospaced standard font (Courier: every glyph 0.6 em wide).
constexpr double kPageWidth = 841.89;
constexpr double kMargin = 24;
constexpr double kFontSize = 7;
constexpr double kCharWidth = 0.6 * kFontSize;
constexpr double kTitleSize = 9;
constexpr double kRowHeight = 12;
constexpr int kGap = 2;  // characters between two columns

// Printable ASCII only: a UTF-8 sequence shows as one "?", a control character as a blank.
std::string Printable(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else if (c >= 0xC0) {
      out += '?';  // the lead byte of a multi-byte character
    } else if (c < 0x80) {
      out += ' ';
    }  // continuation bytes (0x80..0xBF) and DEL belong to what was already replaced
  }
  return out;
}

// `text` cut to `width` characters, ending in "..." when it was longer.
std::string Fit(const std::string& text, size_t width) {
  if (text.size() <= width) return text;
  if (width <= 3) return text.substr(0, width);
  return text.substr(0, width - 3) + "...";
}

}  // namespace

void PdfTable::DocDeleter::operator()(_HPDF_Doc_Rec* doc) const { HPDF_Free(doc); }

void PdfTable::OnError(HPDF_STATUS error, HPDF_STATUS detail, void* self) {
  auto* table = static_cast<PdfTable*>(self);
  // Reading the finished document to its end reports STREAM_EOF, which is no error.
  if (error == HPDF_STREAM_EOF || table->error_ != 0) return;
  table->error_ = error;
  table->error_detail_ = detail;
}

absl::Status PdfTable::Check(const char* what) {
  if (error_ == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrFormat("PDF: %s failed (libharu error 0x%04X, detail %u)",
                                             what, error_, error_detail_));
}

PdfTable::PdfTable(std::string title, std::vector<Column> columns)
    : title_(Printable(title)), columns_(std::move(columns)) {}

absl::StatusOr<std::unique_ptr<PdfTable>> PdfTable::Create(std::string title,
                                                           std::vector<Column> columns) {
  std::unique_ptr<PdfTable> table(new PdfTable(std::move(title), std::move(columns)));
  const int line = static_cast<int>((kPageWidth - 2 * kMargin) / kCharWidth);
  int used = 0;
  Column* flexible = nullptr;
  for (Column& column : table->columns_) {
    if (column.width == 0) flexible = &column;
    used += column.width + kGap;
  }
  used -= kGap;
  if (used > line || (flexible != nullptr && used + 4 > line)) {
    return absl::InvalidArgumentError(
        absl::StrCat("PDF: the columns need ", used, " characters, a line holds ", line));
  }
  if (flexible != nullptr) flexible->width = line - used;

  table->doc_.reset(HPDF_New(&PdfTable::OnError, table.get()));
  if (table->doc_ == nullptr) return absl::InternalError("PDF: cannot create a document");
  HPDF_SetCompressionMode(table->doc_.get(), HPDF_COMP_ALL);
  HPDF_SetInfoAttr(table->doc_.get(), HPDF_INFO_TITLE, table->title_.c_str());
  HPDF_SetInfoAttr(table->doc_.get(), HPDF_INFO_CREATOR, "hookctl");
  if (absl::Status status = table->Check("creating the document"); !status.ok()) return status;
  if (absl::Status status = table->NewPage(); !status.ok()) return status;
  return table;
}

absl::Status PdfTable::NewPage() {
  HPDF_Doc doc = doc_.get();
  HPDF_Page page = HPDF_AddPage(doc);
  if (page == nullptr) return Check("adding a page");
  pages_.push_back(page);
  rows_on_page_ = 0;
  HPDF_Page_SetSize(page, HPDF_PAGE_SIZE_A4, HPDF_PAGE_LANDSCAPE);
  const double top = HPDF_Page_GetHeight(page) - kMargin;
  HPDF_Page_SetFontAndSize(page, HPDF_GetFont(doc, "Courier-Bold", nullptr), kTitleSize);
  HPDF_Page_BeginText(page);
  const size_t title_chars =
      static_cast<size_t>((HPDF_Page_GetWidth(page) - 2 * kMargin) / (0.6 * kTitleSize));
  HPDF_Page_TextOut(page, kMargin, top - kTitleSize, Fit(title_, title_chars).c_str());
  HPDF_Page_EndText(page);

  // The header row, bold and underlined, on every page.
  std::vector<std::string> titles;
  for (const Column& column : columns_) titles.push_back(column.title);
  const double header = top - kTitleSize - 2 * kRowHeight;
  HPDF_Page_SetFontAndSize(page, HPDF_GetFont(doc, "Courier-Bold", nullptr), kFontSize);
  DrawCells(titles, header);
  HPDF_Page_SetLineWidth(page, 0.5);
  HPDF_Page_MoveTo(page, kMargin, header - 3);
  HPDF_Page_LineTo(page, HPDF_Page_GetWidth(page) - kMargin, header - 3);
  HPDF_Page_Stroke(page);
  return Check("drawing a page header");
}

void PdfTable::DrawCells(const std::vector<std::string>& cells, double y) {
  HPDF_Page page = pages_.back();
  HPDF_Page_BeginText(page);
  double x = kMargin;
  for (size_t i = 0; i < columns_.size(); ++i) {
    const std::string text = i < cells.size() ? Fit(Printable(cells[i]), columns_[i].width) : "";
    if (!text.empty()) HPDF_Page_TextOut(page, x, y, text.c_str());
    x += (columns_[i].width + kGap) * kCharWidth;
  }
  HPDF_Page_EndText(page);
}

absl::Status PdfTable::AddRow(const std::vector<std::string>& cells) {
  if (rows_on_page_ == kRowsPerPage) {
    if (absl::Status status = NewPage(); !status.ok()) return status;
  }
  HPDF_Page page = pages_.back();
  const double first = HPDF_Page_GetHeight(page) - kMargin - kTitleSize - 3 * kRowHeight - 2;
  const double y = first - rows_on_page_ * kRowHeight;
  if (rows_on_page_ % 2 == 1) {
    // Every other row shaded, so that a long row can be followed across the page.
    HPDF_Page_SetGrayFill(page, 0.92);
    HPDF_Page_Rectangle(page, kMargin - 2, y - 3, HPDF_Page_GetWidth(page) - 2 * kMargin + 4,
                        kRowHeight);
    HPDF_Page_Fill(page);
    HPDF_Page_SetGrayFill(page, 0);
  }
  HPDF_Page_SetFontAndSize(page, HPDF_GetFont(doc_.get(), "Courier", nullptr), kFontSize);
  DrawCells(cells, y);
  ++rows_on_page_;
  ++rows_;
  return Check("adding a row");
}

absl::Status PdfTable::Write(std::ostream& out) {
  for (size_t i = 0; i < pages_.size(); ++i) {
    HPDF_Page page = pages_[i];
    const std::string footer = absl::StrCat("page ", i + 1, " of ", pages_.size());
    HPDF_Page_SetFontAndSize(page, HPDF_GetFont(doc_.get(), "Courier", nullptr), kFontSize);
    HPDF_Page_BeginText(page);
    HPDF_Page_TextOut(page, HPDF_Page_GetWidth(page) - kMargin - footer.size() * kCharWidth,
                      kMargin / 2, footer.c_str());
    if (rows_ == 0 && i == 0) {
      HPDF_Page_TextOut(page, kMargin,
                        HPDF_Page_GetHeight(page) - kMargin - kTitleSize - 3 * kRowHeight - 2,
                        "(no rows)");
    }
    HPDF_Page_EndText(page);
  }
  HPDF_SaveToStream(doc_.get());
  if (absl::Status status = Check("saving"); !status.ok()) return status;
  std::vector<HPDF_BYTE> buffer(64 * 1024);
  for (;;) {
    HPDF_UINT32 size = static_cast<HPDF_UINT32>(buffer.size());
    HPDF_STATUS read = HPDF_ReadFromStream(doc_.get(), buffer.data(), &size);
    out.write(reinterpret_cast<const char*>(buffer.data()), size);
    if (read == HPDF_STREAM_EOF) break;
    if (read != HPDF_OK) return Check("reading the document");
  }
  HPDF_ResetError(doc_.get());
  return absl::OkStatus();
}

}  // namespace hookd::hookctl
